/*-------------------------------------------------------------------------
 *
 * contract.h
 *	  Finding okra's own SQL objects from C, and checking that they are the
 *	  ones this library was built for (contract.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OKRA_CONTRACT_H
#define OKRA_CONTRACT_H

extern Oid	okra_contract_function(Oid nsp, const char *name, int nargs);
extern Oid	okra_contract_type(Oid nsp, const char *name);
extern void okra_contract_check(Oid nsp);
extern char *okra_contract_sql_version(void);
extern void okra_contract_check_version(void);

#endif							/* OKRA_CONTRACT_H */
