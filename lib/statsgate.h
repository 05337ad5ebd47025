/*  statsgate: who may read the operations routes (fastpush-poll's
 *  PREFIX/stats and PREFIX/metrics), from the `stats-access` directive.
 *
 *      stats-access off              nobody: the routes answer 404
 *      stats-access open             anyone (the behaviour before 0.2)
 *      stats-access WAY[,WAY...]     anyone admitted by one of the ways:
 *          local   the peer the web server saw (REMOTE_ADDR) is a
 *                  loopback address: 127.0.0.0/8, ::1, ::ffff:127.x.x.x
 *          token   Authorization: Bearer <stats-token>, compared in
 *                  constant time
 *          auth    a client the auth directives identify (JWT or
 *                  REMOTE_USER with the ACL, groups included) that may
 *                  subscribe to the channel `stats-right`
 *
 *  The default is `local`.  Only this pure logic lives here: parsing the
 *  word, recognising a loopback address, checking a bearer token.  The
 *  program applies it to its requests (fcgi-poll/stats.c).
 */
#ifndef FP_STATSGATE_H
#define FP_STATSGATE_H

#include <stdbool.h>

#include "err.h"

#define FP_STATSGATE_LOCAL 1u
#define FP_STATSGATE_TOKEN 2u
#define FP_STATSGATE_AUTH 4u
#define FP_STATSGATE_OPEN 8u

/*  Parse a `stats-access` value into a set of FP_STATSGATE_* bits (0 for
 *  off).  Returns 0, or -1 with a message in err for an unknown word, an
 *  empty one, or off/open combined with anything.  */
int fp_statsgate_parse(const char *spec, unsigned *ways, char *err);

/*  True if addr (a numeric IPv4 or IPv6 address, as in REMOTE_ADDR) is a
 *  loopback address.  NULL, empty or not numeric: false.  */
bool fp_statsgate_loopback(const char *addr);

/*  True if authorization (an Authorization header value, or NULL) is
 *  "Bearer <want>" (scheme case-insensitive).  The token is compared in
 *  constant time for a given length; want must not be empty.  */
bool fp_statsgate_bearer(const char *want, const char *authorization);

#endif
