/*-------------------------------------------------------------------------
 *
 * pseudonym.c
 *	  Pseudonyms for registry extracts: a site secret drawn from OpenSSL's
 *	  CSPRNG, and HMAC-SHA256 of a patient's source key under it.
 *
 *	  The secret itself lives in careflags.pseudonym_key, a table only the
 *	  extension owner can read; these functions never store or log it.  The
 *	  SQL wrappers are not granted to anyone: the SECURITY DEFINER extract
 *	  and rotation functions of sql/parts/65_extract.sql call them.
 *
 *	  careflags.min_cell_size() hands the reports the smallest cell they may
 *	  publish.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "careflags.h"

/* Bytes of a site secret: as long as the SHA-256 block's output. */
#define CF_SECRET_BYTES 32
/* Shortest secret the HMAC accepts (a tampered table is refused). */
#define CF_SECRET_MIN_BYTES 16

/*
 * Fill buf with len bytes from OpenSSL's CSPRNG.  Returns false when the
 * generator could not be seeded.
 */
static bool
cf_random_bytes(unsigned char *buf, int len)
{
	return RAND_bytes(buf, len) == 1;
}

/*
 * HMAC-SHA256 of msg under key, written as 64 lowercase hex digits and a
 * NUL into out (65 bytes).  Returns false when OpenSSL fails.
 */
static bool
cf_hmac_sha256_hex(const unsigned char *key, int keylen,
				   const unsigned char *msg, size_t msglen, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	static const char hex[] = "0123456789abcdef";
	unsigned int i;

	if (HMAC(EVP_sha256(), key, keylen, msg, msglen, mac, &maclen) == NULL ||
		maclen != 32)
		return false;
	for (i = 0; i < maclen; i++)
	{
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 0x0f];
	}
	out[2 * maclen] = '\0';
	return true;
}

/* careflags.pseudonym_new_secret(): 32 fresh bytes from OpenSSL's CSPRNG. */
PG_FUNCTION_INFO_V1(careflags_pseudonym_new_secret);
Datum
careflags_pseudonym_new_secret(PG_FUNCTION_ARGS)
{
	bytea	   *result = (bytea *) palloc(VARHDRSZ + CF_SECRET_BYTES);

	SET_VARSIZE(result, VARHDRSZ + CF_SECRET_BYTES);
	if (!cf_random_bytes((unsigned char *) VARDATA(result), CF_SECRET_BYTES))
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not generate a pseudonym secret"),
				 errdetail("OpenSSL's random generator (RAND_bytes) failed.")));
	PG_RETURN_BYTEA_P(result);
}

/* careflags.pseudonym_hmac(secret, message): HMAC-SHA256 as hex text. */
PG_FUNCTION_INFO_V1(careflags_pseudonym_hmac);
Datum
careflags_pseudonym_hmac(PG_FUNCTION_ARGS)
{
	bytea	   *secret = PG_GETARG_BYTEA_PP(0);
	text	   *message = PG_GETARG_TEXT_PP(1);
	char		out[65];

	if (VARSIZE_ANY_EXHDR(secret) < CF_SECRET_MIN_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pseudonym secret is too short"),
				 errdetail("A secret has at least %d bytes.", CF_SECRET_MIN_BYTES),
				 errhint("An administrator can make a new one with careflags.rotate_pseudonym_key().")));
	if (!cf_hmac_sha256_hex((const unsigned char *) VARDATA_ANY(secret),
							(int) VARSIZE_ANY_EXHDR(secret),
							(const unsigned char *) VARDATA_ANY(message),
							VARSIZE_ANY_EXHDR(message), out))
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not compute a pseudonym"),
				 errdetail("OpenSSL's HMAC-SHA256 failed.")));
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * careflags.min_cell_size(): the k of the reports and the extract
 * (careflags.min_cell_size).  Read through the library, so the setting is
 * the one the library defined (superuser-only), never a placeholder a
 * session set before the library was loaded.
 */
PG_FUNCTION_INFO_V1(careflags_min_cell_size);
Datum
careflags_min_cell_size(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(cf_min_cell_size);
}
