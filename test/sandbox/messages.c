/*
 * Every message okra-sandbox sends, in one table. Okra's own messages are
 * verbatim, typos included (see README.md and okra-api.md section 6).
 */
#include "sandbox.h"

static const char *const messages[MSG_COUNT] = {
	[MSG_VERIFY_OK] = "Payment Status suceccefully retrieved!",
	[MSG_INITIATE_OK] = "Payment succesfully initiated!",
	[MSG_REFUND_OK] =
		"Refund has been initated; Please verify `reufund_payment` to confirm.",
	[MSG_REFUND_INNER_OK] =
		"Payment has been initiated; Please verify to complete",
	[MSG_PAYOUT_OK] = "Payout successfully initiated!",
	[MSG_PAYOUT_GET_OK] = "Payout successfully retrieved.",
	[MSG_LINK_OK] = "Payment link successfully created!",
	[MSG_AUTH_INITIATE_OK] =
		"Payment authorization was successfully updated and will begin %s "
		"with an initial payment of NGN %lld and continue with payments "
		"of NGN %lld on an ongoing basis until cancelled",
	[MSG_AUTH_CANCEL_OK] = "Payment authorization successfully cancelled.",
	[MSG_AUTH_REAUTH_OK] = "Payment authorization successfully reauthorized.",
	[MSG_AUTH_LIST_OK] = "Payment authorizations successfully retrieved.",
	[MSG_BULK_OK] = "Bulk payment file successfully uploaded.",
	[MSG_CANCEL_OK] = "Payment successfully cancelled.",
	[MSG_GET_OK] = "Payment successfully retrieved.",
	[MSG_LIST_OK] = "Payments successfully retrieved.",
	[MSG_REFUND_DUPLICATE] =
		"Duplicate request. This payment has already been refunded.",
	[MSG_REFUND_TOO_MUCH] =
		"You cannot intiate a refund for an amount greater than the initial payment.",
	[MSG_REFUND_NOT_SUCCESS] =
		"You cannot intiate a refund on a payment that is in progress or failed.",
	[MSG_REFUND_WALLET_SHORT] =
		"You do not have sufficient funds in your wallet to initiate this refund, please pass an `account` ID or lower the refund amount to continue",
	[MSG_PAYOUT_WALLET_SHORT] =
		"You do not have sufficient funds in your wallet to initiate this payout.",
	[MSG_NOT_CANCELLABLE] =
		"Payment can only be cancelled when it is initialized or pending.",
	[MSG_NOT_FOUND] = "Payment not found.",
	[MSG_PAYOUT_NOT_FOUND] = "Payout not found.",
	[MSG_AUTH_NOT_FOUND] = "Authorization not found.",
	[MSG_AUTH_CANCELLED] = "This authorization has been cancelled.",
	[MSG_AUTH_NOT_CANCELLED] =
		"Only a cancelled authorization can be reauthorized.",
	[MSG_AUTH_BY_CUSTOMER] =
		"This authorization was cancelled by the customer and cannot be reauthorized.",
	[MSG_DATE_ORDER] = "%s must not be after %s.",
	[MSG_BULK_HEADER] =
		"Invalid or missing file header: the columns must be account_to_debit, "
		"account_to_credit, amount, currency, callback_url.",
	[MSG_BULK_EMPTY] = "The file has no payment rows.",
	[MSG_BULK_ROW] = "Invalid or missing %s in row %zu of the file.",
	[MSG_BULK_COLUMNS] = "Row %zu of the file does not have %zu columns.",
	[MSG_INVALID_FIELD] = "Invalid or missing %s.",
	[MSG_BAD_PAYLOAD] = "The API call failed. Please check the message payload.",
	[MSG_TOO_LARGE] = "Request body too large.",
	[MSG_BAD_KEY] = "Invalid or missing secret key.",
	[MSG_NO_ROUTE] =
		"The API Route you're using doesn't exist. Check our documentation and confirm the route.",
	[MSG_RATE_LIMIT] = "Too many requests. You can try again in 60 seconds.",
	[MSG_IDEM_MISMATCH] =
		"Idempotency-Key has already been used with a different request body.",
	[MSG_IDEM_IN_FLIGHT] =
		"A request with this Idempotency-Key is still in progress.",
	[MSG_TIMEOUT] =
		"Our data source has returned a timeout response. Please retry the request. ",
	[MSG_SERVER_ERROR] = "Something went wrong on our side.",
	[MSG_HTML_PAGE] =
		"<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
		"<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n"
		"</body>\r\n</html>\r\n",
	[MSG_CTL_FORBIDDEN] = "The control API answers loopback clients only.",
	[MSG_CTL_NOT_FOUND] = "No such control request.",
	[MSG_CTL_BAD_JSON] = "The body must be a JSON object.",
	[MSG_CTL_BAD_FIELD] = "Invalid or missing %s.",
	[MSG_CTL_NO_PAYMENT] = "Payment not found.",
	[MSG_CTL_NO_REFUND] = "Refund not found.",
	[MSG_CTL_NO_KEY] = "Unknown key.",
	[MSG_CTL_DUP_ID] = "A payment with this id already exists.",
	[MSG_CTL_REFUND_FINAL] = "The refund has already failed.",
	[MSG_CTL_DUP_OBJECT] = "An object with this id already exists.",
	[MSG_CTL_NO_LINK] = "Link not found.",
	[MSG_CTL_LINK_AMOUNT] =
		"The link's amount is fixed: leave amount out or give the same.",
	[MSG_CTL_NO_AUTH] = "Authorization not found.",
	[MSG_CTL_AUTH_CUSTOMER] =
		"The customer has already cancelled this authorization.",
	[MSG_CTL_NO_PAYOUT] = "Payout not found.",
	[MSG_CTL_PAYOUT_FINAL] = "The payout has already settled.",
	[MSG_CTL_WH_OFF] = "Webhooks are not configured.",
	[MSG_CTL_WH_NOT_A_LIE] = "That is the payment's real status; a lie must differ.",
};

const char *msg(enum msg_id id)
{
	return (id >= 0 && id < MSG_COUNT && messages[id]) ? messages[id] : "";
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Time-out";
	default: return status >= 500 ? "Server Error" : "Error";
	}
}
