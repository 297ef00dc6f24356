/*-------------------------------------------------------------------------
 *
 * reason_sql.c
 *	  SQL face of reason.c: careflags.language (the setting), and the
 *	  functions the views call to render a flag's reason, state and title
 *	  and an action row in the reader's language, from the reason data
 *	  kept in careflags.flag.details.
 *
 *	  A flag written before 1.3 has no details: its stored (English)
 *	  reason is shown as it is.
 *
 *	  The views call reason_text() once per row and action_text() once per
 *	  action, and the same flags are read again and again (a nurse's
 *	  worklist every few seconds).  Reading the reason data out of the jsonb
 *	  (some twenty key look-ups, dates and numbers parsed) and rendering it
 *	  were 7 % of a worklist's time.  So each backend keeps, per details
 *	  value (its bytes), the reason data read from it and its text in each
 *	  language asked for.  The text is a function of the details and the
 *	  language alone (nothing else is read), so an entry is never stale: a
 *	  flag whose details change has other bytes, a reader in another
 *	  language gets its own text.  The cache is bounded (REASON_CACHE_MAX
 *	  entries) and emptied whole when full.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "calendar.h"
#include "careflags.h"
#include "reason.h"

char	   *cf_language = NULL;

/* careflags.language accepts nb, nn and en. */
bool
cf_check_language(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || cf_lang_parse(*newval) < 0)
	{
		GUC_check_errdetail("careflags.language must be nb (bokmål), nn (nynorsk) or en (English).");
		return false;
	}
	return true;
}

/* The language of an optional argument, else careflags.language. */
static CfLang
arg_lang(FunctionCallInfo fcinfo, int argno)
{
	char	   *name;
	int			l;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return (CfLang) cf_lang_parse(cf_language);
	name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	l = cf_lang_parse(name);
	if (l < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown language \"%s\"", name),
				 errhint("Use nb (bokmål), nn (nynorsk) or en (English).")));
	return (CfLang) l;
}

/* A key of a jsonb object, or NULL. */
static JsonbValue *
jb_key(Jsonb *jb, const char *key)
{
	if (!JB_ROOT_IS_OBJECT(jb))
		return NULL;
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
}

/* A string key copied into buf (empty when absent). */
static void
jb_text(Jsonb *jb, const char *key, char *buf, size_t len)
{
	JsonbValue *v = jb_key(jb, key);

	buf[0] = '\0';
	if (v != NULL && v->type == jbvString)
		snprintf(buf, len, "%.*s", v->val.string.len, v->val.string.val);
}

static double
jb_number(Jsonb *jb, const char *key)
{
	JsonbValue *v = jb_key(jb, key);

	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

static bool
jb_bool(Jsonb *jb, const char *key)
{
	JsonbValue *v = jb_key(jb, key);

	return v != NULL && v->type == jbvBool && v->val.boolean;
}

/* "2026-12-05" -> 20261205; 0 when absent. */
static int32
jb_date(Jsonb *jb, const char *key)
{
	char		buf[16];
	int			y,
				m,
				d;

	jb_text(jb, key, buf, sizeof(buf));
	if (sscanf(buf, "%d-%d-%d", &y, &m, &d) != 3)
		return 0;
	return y * 10000 + m * 100 + d;
}

/* A string member of a jsonb object value copied into buf (empty when absent). */
static void
jb_member_text(JsonbValue *obj, const char *key, char *buf, size_t len)
{
	JsonbValue *v = NULL;

	buf[0] = '\0';
	if (obj->type == jbvBinary && JsonContainerIsObject(obj->val.binary.data))
		v = getKeyJsonValueFromContainer(obj->val.binary.data, key, strlen(key), NULL);
	if (v != NULL && v->type == jbvString)
		snprintf(buf, len, "%.*s", v->val.string.len, v->val.string.val);
}

/*
 * The medicines of a fall_drug reason ("drugs": [{"name", "atc"}, ...] and
 * "drugs_total"); reason data written before the list has text1/text2 only,
 * which the renderer reads as one medicine (n_drugs 0).
 */
static void
reason_drugs_from_jsonb(Jsonb *jb, CfReasonData *d)
{
	JsonbValue *arr = jb_key(jb, "drugs");
	int			n;

	if (arr == NULL || arr->type != jbvBinary || !JsonContainerIsArray(arr->val.binary.data))
		return;
	n = JsonContainerSize(arr->val.binary.data);
	for (int i = 0; i < n && d->n_drugs < CF_REASON_DRUGS; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr->val.binary.data, i);
		CfReasonDrug *drug = &d->drugs[d->n_drugs];

		if (e == NULL)
			continue;
		jb_member_text(e, "name", drug->name, sizeof(drug->name));
		jb_member_text(e, "atc", drug->atc, sizeof(drug->atc));
		if (drug->name[0] != '\0')
			d->n_drugs++;
	}
	d->drugs_total = (int) jb_number(jb, "drugs_total");
	if (d->drugs_total < d->n_drugs)
		d->drugs_total = d->n_drugs;
}

/* Reason data from careflags.flag.details. */
static void
reason_from_jsonb(Jsonb *jb, CfReasonData *d)
{
	static const char *const domains[CF_DOM_COUNT] = {"nutrition", "medication_review", "fall_risk"};
	static const char *const settings[CF_SET_COUNT] = {
		"nursing_home_long_term", "nursing_home_short_term", "home_nursing", "home_services", "gp"
	};
	char		buf[64];

	memset(d, 0, sizeof(*d));
	jb_text(jb, "kind", buf, sizeof(buf));
	d->kind = (CfReasonKind) cf_reason_kind_parse(buf);
	jb_text(jb, "domain", buf, sizeof(buf));
	for (int i = 0; i < CF_DOM_COUNT; i++)
		if (strcmp(buf, domains[i]) == 0)
			d->domain = i;
	jb_text(jb, "setting", buf, sizeof(buf));
	for (int i = 0; i < CF_SET_COUNT; i++)
		if (strcmp(buf, settings[i]) == 0)
			d->setting = i;
	d->date1 = jb_date(jb, "date1");
	d->date2 = jb_date(jb, "date2");
	d->due = jb_date(jb, "due");
	d->value1 = jb_number(jb, "value1");
	d->value2 = jb_number(jb, "value2");
	d->value3 = jb_number(jb, "value3");
	d->value4 = jb_number(jb, "value4");
	d->count = (int) jb_number(jb, "count");
	d->flag = jb_bool(jb, "flag");
	d->flag2 = jb_bool(jb, "flag2");
	jb_text(jb, "text1", d->text1, sizeof(d->text1));
	jb_text(jb, "text2", d->text2, sizeof(d->text2));
	reason_drugs_from_jsonb(jb, d);
}

/* ---- the reason data and texts of details values seen by this backend ---- */

#define REASON_CACHE_MAX 1024		/* about 2 MB at most */

/* An entry is found by the hash and length of the details' bytes. */
typedef struct ReasonCacheKey
{
	uint32		hash;
	uint32		len;
} ReasonCacheKey;

typedef struct ReasonCacheEntry
{
	ReasonCacheKey key;
	char	   *bytes;			/* the details' bytes (VARDATA), to compare */
	CfReasonData data;
	char	   *text[CF_LANG_COUNT];	/* rendered, NULL until asked for */
} ReasonCacheEntry;

static MemoryContext reason_cxt = NULL;
static HTAB *reason_cache = NULL;

/* An empty cache (the first use, or the old one was full). */
static void
reason_cache_reset(void)
{
	HASHCTL		ctl;

	if (reason_cxt == NULL)
		reason_cxt = AllocSetContextCreate(TopMemoryContext, "careflags reason texts",
										   ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(reason_cxt);
	ctl.keysize = sizeof(ReasonCacheKey);
	ctl.entrysize = sizeof(ReasonCacheEntry);
	ctl.hcxt = reason_cxt;
	reason_cache = hash_create("careflags reason texts", 256, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * The cache entry of a details value, its reason data read on first use.
 * NULL when another value of the same hash and length holds the slot (the
 * caller then reads the data itself).
 */
static ReasonCacheEntry *
reason_cache_entry(Jsonb *jb)
{
	ReasonCacheKey key;
	ReasonCacheEntry *e;
	bool		found;
	const char *bytes = VARDATA(jb);

	if (reason_cache == NULL || hash_get_num_entries(reason_cache) >= REASON_CACHE_MAX)
		reason_cache_reset();
	key.len = VARSIZE(jb) - VARHDRSZ;
	key.hash = hash_bytes((const unsigned char *) bytes, (int) key.len);
	e = hash_search(reason_cache, &key, HASH_ENTER, &found);
	if (found)
		return memcmp(e->bytes, bytes, key.len) == 0 ? e : NULL;
	/* a new entry: removed again if anything fails before it is complete */
	memset(e->text, 0, sizeof(e->text));
	PG_TRY();
	{
		e->bytes = MemoryContextAlloc(reason_cxt, Max(key.len, 1));
		memcpy(e->bytes, bytes, key.len);
		reason_from_jsonb(jb, &e->data);
	}
	PG_CATCH();
	{
		hash_search(reason_cache, &key, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return e;
}

/*
 * The reason data of a details value: the cached copy, or (hash collision)
 * read into *buf.
 */
static const CfReasonData *
reason_data(Jsonb *jb, CfReasonData *buf)
{
	ReasonCacheEntry *e = reason_cache_entry(jb);

	if (e != NULL)
		return &e->data;
	reason_from_jsonb(jb, buf);
	return buf;
}

/* careflags.language(): the language texts are shown in now. */
PG_FUNCTION_INFO_V1(careflags_language);
Datum
careflags_language(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(cf_language ? cf_language : "nb"));
}

/* careflags.reason_text(details, reason, lang): a flag's reason in a language. */
PG_FUNCTION_INFO_V1(careflags_reason_text);
Datum
careflags_reason_text(PG_FUNCTION_ARGS)
{
	CfLang		lang = arg_lang(fcinfo, 2);
	ReasonCacheEntry *e;
	CfReasonData own;
	const CfReasonData *d;
	char		buf[CF_REASON_LEN * 2];

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	e = reason_cache_entry(PG_GETARG_JSONB_P(0));
	if (e != NULL && e->text[lang] != NULL)
		PG_RETURN_TEXT_P(cstring_to_text(e->text[lang]));
	if (e != NULL)
		d = &e->data;
	else
	{
		reason_from_jsonb(PG_GETARG_JSONB_P(0), &own);
		d = &own;
	}
	if (d->kind == CF_RK_NONE)
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	cf_render_reason(d, lang, buf, sizeof(buf));
	if (e != NULL)
		e->text[lang] = MemoryContextStrdup(reason_cxt, buf);
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

/* careflags.state_text(state, lang): a state in a language. */
PG_FUNCTION_INFO_V1(careflags_state_text);
Datum
careflags_state_text(PG_FUNCTION_ARGS)
{
	CfLang		lang = arg_lang(fcinfo, 1);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(cf_render_state(text_to_cstring(PG_GETARG_TEXT_PP(0)), lang)));
}

/* The action of an argument, or an error naming the five. */
static CfTodoKind
arg_action(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	int			a = cf_action_parse(name);

	if (a < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown action \"%s\"", name),
				 errhint("Use nutrition_screening, nutrition_plan, medication_review, fall_risk_assessment or fall_prevention_plan.")));
	return (CfTodoKind) a;
}

/* careflags.action_label(action, lang): an action's name in a language. */
PG_FUNCTION_INFO_V1(careflags_action_label);
Datum
careflags_action_label(PG_FUNCTION_ARGS)
{
	CfLang		lang = arg_lang(fcinfo, 1);

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(cf_render_action_label(arg_action(fcinfo, 0), lang)));
}

/*
 * careflags.action_text(action, details[], due_at, lang): the row of one
 * action, at most 140 characters.
 */
PG_FUNCTION_INFO_V1(careflags_action_text);
Datum
careflags_action_text(PG_FUNCTION_ARGS)
{
	CfLang		lang = arg_lang(fcinfo, 3);
	CfTodoKind a;
	Datum	   *elems = NULL;
	bool	   *nulls = NULL;
	int			n = 0;
	CfReasonData *data;
	const CfReasonData **ptrs;
	int32		due = 0;
	char		buf[CF_ACTION_TEXT_MAX * 4 + 8];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	a = arg_action(fcinfo, 0);
	if (!PG_ARGISNULL(1))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), JSONBOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
	data = palloc0(sizeof(CfReasonData) * (n + 1));
	ptrs = palloc0(sizeof(CfReasonData *) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		ptrs[i] = reason_data(DatumGetJsonbP(elems[i]), &data[i]);
	}
	if (!PG_ARGISNULL(2))
		due = cf_calendar_local_date((CfTime) PG_GETARG_TIMESTAMPTZ(2));
	cf_render_action(a, ptrs, n, due, lang, buf, sizeof(buf));
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}
