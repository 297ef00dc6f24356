/*-------------------------------------------------------------------------
 *
 * calendar.c
 *	  Months, days and dates in careflags.timezone, for the evaluator.
 *
 *	  Adding an interval follows timestamptz_pl_interval: months first (the
 *	  day of month clamped to the month's length), then days, both on the
 *	  local calendar with the local time of day kept, then the time part.
 *	  The only difference is the zone: careflags.timezone, not TimeZone.
 *
 *	  Memory: the scratch allocator is palloc in the caller's context, which
 *	  the caller resets per patient.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "calendar.h"
#include "careflags.h"

static const char *const month_names[12] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"
};

static pg_tz *
care_tz(void)
{
	static pg_tz *tz = NULL;
	static char last_name[TZ_STRLEN_MAX + 1] = "";

	if (tz == NULL || strcmp(last_name, cf_timezone_name) != 0)
	{
		tz = pg_tzset(cf_timezone_name);
		if (tz == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("time zone \"%s\" of careflags.timezone is not known", cf_timezone_name)));
		strlcpy(last_name, cf_timezone_name, sizeof(last_name));
	}
	return tz;
}

static void
to_local(CfTime t, struct pg_tm *tm, fsec_t *fsec)
{
	int			tzoff;

	if (timestamp2tm((Timestamp) t, &tzoff, tm, fsec, NULL, care_tz()) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
}

static CfTime
from_local(struct pg_tm *tm, fsec_t fsec)
{
	int			tzoff = DetermineTimeZoneOffset(tm, care_tz());
	Timestamp	t;

	if (tm2timestamp(tm, fsec, &tzoff, &t) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return (CfTime) t;
}

CfTime
cf_calendar_add(CfTime t, const CfInterval *iv, int sign)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (t == CF_TIME_NONE || t == CF_TIME_NEVER || TIMESTAMP_NOT_FINITE(t))
		return t;
	if (iv->months != 0)
	{
		to_local(t, &tm, &fsec);
		tm.tm_mon += sign * iv->months;
		if (tm.tm_mon > MONTHS_PER_YEAR)
		{
			tm.tm_year += (tm.tm_mon - 1) / MONTHS_PER_YEAR;
			tm.tm_mon = ((tm.tm_mon - 1) % MONTHS_PER_YEAR) + 1;
		}
		else if (tm.tm_mon < 1)
		{
			tm.tm_year += tm.tm_mon / MONTHS_PER_YEAR - 1;
			tm.tm_mon = tm.tm_mon % MONTHS_PER_YEAR + MONTHS_PER_YEAR;
		}
		if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
			tm.tm_mday = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
		t = from_local(&tm, fsec);
	}
	if (iv->days != 0)
	{
		int			julian;

		to_local(t, &tm, &fsec);
		julian = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) + sign * iv->days;
		j2date(julian, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		t = from_local(&tm, fsec);
	}
	return t + sign * iv->usecs;
}

/*
 * (t AT TIME ZONE tz - iv) AT TIME ZONE tz, tz careflags.timezone: the
 * local wall time of t, minus iv on the local calendar (months, days and
 * time as timestamp_mi_interval() subtracts them), back to an instant as
 * timestamp_zone() does.  The same steps as those SQL functions, with the
 * zone looked up once (care_tz()) instead of by name in every call: the
 * nurse's views call it per row (careflags.due_soon_from(), flag_state()).
 */
TimestampTz
cf_calendar_local_minus(TimestampTz t, Interval *iv)
{
	pg_tz	   *tz = care_tz();
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	Timestamp	local;
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(t))
		return t;
	if (timestamp2tm(t, &tzoff, &tm, &fsec, NULL, tz) != 0 ||
		tm2timestamp(&tm, fsec, NULL, &local) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	local = DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval,
												  TimestampGetDatum(local),
												  IntervalPGetDatum(iv)));
	if (TIMESTAMP_NOT_FINITE(local))
		return local;
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	tzoff = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, fsec, &tzoff, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("could not convert to time zone \"%s\"", cf_timezone_name)));
	return result;
}

static CfTime
op_add_interval(void *arg, CfTime t, const CfInterval *iv, int sign)
{
	return cf_calendar_add(t, iv, sign);
}

static int
op_age_years(void *arg, int32_t birth_date, CfTime t)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			by,
				bm,
				bd,
				age;

	to_local(t, &tm, &fsec);
	j2date(birth_date + POSTGRES_EPOCH_JDATE, &by, &bm, &bd);
	age = tm.tm_year - by;
	if (tm.tm_mon < bm || (tm.tm_mon == bm && tm.tm_mday < bd))
		age--;
	return age;
}

static CfTime
op_birthday(void *arg, int32_t birth_date, int years)
{
	struct pg_tm tm;
	int			by,
				bm,
				bd;

	j2date(birth_date + POSTGRES_EPOCH_JDATE, &by, &bm, &bd);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = by + years;
	tm.tm_mon = bm;
	/* born on 29 February: the birthday is 1 March in other years */
	if (bd > day_tab[isleap(tm.tm_year)][bm - 1])
	{
		tm.tm_mon = bm + 1;
		bd = 1;
	}
	tm.tm_mday = bd;
	return from_local(&tm, 0);
}

static void
op_format_date(void *arg, CfTime t, char *buf, size_t len)
{
	struct pg_tm tm;
	fsec_t		fsec;

	to_local(t, &tm, &fsec);
	snprintf(buf, len, "%d %s %d", tm.tm_mday, month_names[tm.tm_mon - 1], tm.tm_year);
}

/* The care-time-zone date of t as yyyymmdd (for reason data). */
int32
cf_calendar_local_date(CfTime t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	to_local(t, &tm, &fsec);
	return tm.tm_year * 10000 + tm.tm_mon * 100 + tm.tm_mday;
}

static int32_t
op_local_date(void *arg, CfTime t)
{
	return cf_calendar_local_date(t);
}

static void *
op_alloc(void *arg, size_t size)
{
	return palloc(size);
}

void
cf_calendar_ops(CfEvalOps *ops)
{
	ops->arg = NULL;
	ops->add_interval = op_add_interval;
	ops->age_years = op_age_years;
	ops->birthday = op_birthday;
	ops->format_date = op_format_date;
	ops->alloc = op_alloc;
	ops->local_date = op_local_date;
}
