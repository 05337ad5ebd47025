/*  json: small helpers on jansson used by every program.
 *
 *  jansson's rules hold: functions returning json_t * give a new reference
 *  unless they say "borrowed"; the *_new setters steal.  These helpers add
 *  error messages suitable for replies to clients.
 */
#ifndef FP_JSON_H
#define FP_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/*  Parse text (any JSON value, duplicate keys refused).  Returns a new
 *  reference, or NULL with "invalid JSON at line L column C: ..." in err
 *  (FP_ERR_LEN bytes).  */
json_t *fp_json_parse(const char *text, size_t len, char *err);

/*  Compact text of any value, reals with enough digits to round-trip.
 *  Caller frees the result; *len gets its length.  */
char *fp_json_dump(const json_t *v, size_t *len);

/*  Append v's compact text to b.  */
void fp_json_append(fp_buf_t *b, const json_t *v);

/*  Append s as a quoted, escaped JSON string.  */
void fp_json_append_str(fp_buf_t *b, const char *s);

/*  The same for len bytes of s (no NUL needed; a NUL byte is escaped).  */
void fp_json_append_strn(fp_buf_t *b, const char *s, size_t len);

/*  Read an optional string member.  *out is borrowed from obj (NULL when
 *  absent and not required).  Returns -1 with err when the member is not a
 *  string, or missing and required.  */
int fp_json_get_str(const json_t *obj, const char *name, bool required,
                    const char **out, char *err);

/*  Refuse members whose names are not in the NULL-terminated `allowed`.  */
int fp_json_only_fields(const json_t *obj, const char *const *allowed,
                        char *err);

#endif
