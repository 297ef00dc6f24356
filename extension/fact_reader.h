/*-------------------------------------------------------------------------
 *
 * fact_reader.h
 *	  Reading a chunk of patients' facts and open flags into the
 *	  evaluator's structs, straight from the tables' patient indexes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CAREFLAGS_FACT_READER_H
#define CAREFLAGS_FACT_READER_H

#include "postgres.h"

#include "evaluator.h"
#include "executor/tuptable.h"

/* An open flag of a patient (or one resolved done), as stored. */
typedef struct CfOpenFlag
{
	int64		flag_id;
	char	   *rule_id;
	CfTime		due_from;
	CfTime		due_at;
	int64		episode_id;		/* -1 when NULL */
	char	   *unit_id;
	char	   *reason;
	bool		has_details;	/* its reason data (details) is stored */
	int			severity;
	char	   *setting;
	CfTime		trigger_at;		/* the fact its due time counts from (NONE: unknown) */
	/* flags resolved done (CfChunk.done) only: */
	char	   *action_table;	/* the action fact named: its table, id and time */
	int64		action_id;
	CfTime		action_at;
	bool		matched;		/* used by the reconciliation */
	bool		reopened;		/* reopened by this reconciliation */
} CfOpenFlag;

/* The tables the reader reads (fact_reader.c describes each). */
typedef enum CfFactTable
{
	CF_FT_PATIENT = 0,
	CF_FT_PATIENT_STATE,
	CF_FT_EPISODE,
	CF_FT_ASSESSMENT,
	CF_FT_MEASUREMENT,
	CF_FT_MEDICATION,
	CF_FT_MEDICATION_REVIEW,
	CF_FT_CARE_PLAN,
	CF_FT_FALL,
	CF_FT_EXEMPTION,
	CF_FT_OPEN_FLAG,
	CF_FT_DONE_FLAG,
	CF_FT_COUNT
} CfFactTable;

#define CF_FT_BIT(ft)	(1u << (ft))
#define CF_FT_ALL		((1u << CF_FT_COUNT) - 1)
/* read for every evaluation, whichever rules it is for */
#define CF_FT_ALWAYS	(CF_FT_BIT(CF_FT_PATIENT) | CF_FT_BIT(CF_FT_PATIENT_STATE) | \
						 CF_FT_BIT(CF_FT_EPISODE) | CF_FT_BIT(CF_FT_EXEMPTION) | \
						 CF_FT_BIT(CF_FT_OPEN_FLAG) | CF_FT_BIT(CF_FT_DONE_FLAG))

/* Everything read for a chunk of patients (ids sorted, distinct). */
typedef struct CfChunk
{
	int			n;
	const int64 *ids;
	uint32		tables;			/* CF_FT_BIT of the tables to read; 0: all */
	const Oid  *relids;			/* per CfFactTable the relation to read, or
								 * InvalidOid (or relids NULL): by name */
	bool	   *exists;			/* the patient row is there */
	bool	   *has_state;		/* a patient_state row is there */
	CfTime	   *old_next;		/* its next_check_at (CF_TIME_NEVER if NULL) */
	bool	   *has_next_dom;	/* its next_check_by_domain is there (1.3) */
	CfTime	   *old_next_dom;	/* [i * CF_DOM_COUNT + domain] */
	bool		state_v13;		/* patient_state has next_check_by_domain */
	uint32		domains;		/* bits of the CfDomains being evaluated */
	CfPatientFacts *facts;
	CfOpenFlag **open;
	int		   *n_open;
	CfOpenFlag **done;			/* flags resolved done that name an action fact */
	int		   *n_done;
	bool		flag_v13;		/* careflags.flag has trigger_at and action_id (1.3) */
	bool		patients_read;	/* exists and the patient columns are filled */
} CfChunk;

/* Allocate c's arrays (n and ids set) in the current memory context. */
extern void cf_chunk_init(CfChunk *c);

/* Where careflags.patient keeps the columns the evaluator reads. */
typedef struct CfPatientColumns
{
	AttrNumber	birth_date;
	AttrNumber	deceased;
	AttrNumber	deceased_at;
} CfPatientColumns;

extern void cf_patient_columns(TupleDesc td, CfPatientColumns *cols);

/*
 * Fill the patient's own columns (birth date, deceased) from a tuple of
 * careflags.patient, e.g. the one the caller has just locked.
 */
extern void cf_chunk_patient_from_slot(CfChunk *c, int i, TupleTableSlot *slot,
									   const CfPatientColumns *cols);

/*
 * Fill c (set up by cf_chunk_init) under the active snapshot, allocating in
 * the current memory context.  now: the evaluation time (what is read of the
 * measurement and medicine histories depends on it); ops: the calendar.
 */
extern void cf_read_chunk(CfChunk *c, CfTime now, const CfEvalOps *ops);

/* A table's name, and the CfFactTable of a fact table's name (-1 if none). */
extern const char *cf_fact_table_name(CfFactTable ft);
extern int	cf_fact_table_from_name(const char *name);

/* The care setting of an enum label (-1 if unknown), and the label of one. */
extern int	cf_setting_from_name(const char *s);
extern const char *cf_setting_name(CfSetting s);

#endif							/* CAREFLAGS_FACT_READER_H */
