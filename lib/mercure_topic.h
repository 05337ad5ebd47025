/*  mercure_topic: Mercure topic selectors.
 *
 *  A selector (a subscriber's `topic` parameter, an entry of a token's
 *  mercure.publish or mercure.subscribe claim) is
 *
 *  - `*`: every topic;
 *  - a URI Template (RFC 6570, levels 1 to 4: it contains '{'): a topic
 *    that is one of its expansions, as the reference hub matches them.
 *    Each expression matches its operator's optional first character
 *    (`#`, `.`, `/`, `;`, `?`, `&`) and then any run of the characters
 *    its values may expand to (unreserved and pct-encoded; reserved too
 *    for `+` and `#`; plus the operator's separators, ',' and '=' where
 *    they apply), so variable names, prefix lengths (`:N`) and explode
 *    (`*`) are checked for syntax but not counted: a small superset of
 *    the exact expansions.  An undefined variable expands to nothing;
 *  - anything else: one exact topic, byte for byte.
 *
 *  Matching is a walk over the compiled template with a set of states
 *  (no backtracking): linear in the topic's length times the template's.
 */
#ifndef FP_MERCURE_TOPIC_H
#define FP_MERCURE_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define FP_MTOPIC_MAX 2048      /*  bytes of a selector or a topic  */
#define FP_MTOPIC_EXPRS 64      /*  expressions in one template  */

typedef struct fp_mtopic fp_mtopic_t;

/*  Compile a selector.  NULL with err (FP_ERR_LEN bytes) when it is
 *  empty, too long, has control characters or is a malformed template.
 *  The caller owns the result.  */
fp_mtopic_t *fp_mtopic_new(const char *selector, char *err);

/*  Free; NULLs *s_p.  */
void fp_mtopic_destroy(fp_mtopic_t **s_p);

/*  Does the topic (len bytes) match?  */
bool fp_mtopic_match(const fp_mtopic_t *s, const char *topic, size_t len);

/*  A set of selectors (zero-initialised is empty); it owns them.  */
typedef struct {
    fp_mtopic_t **items;
    size_t count;
} fp_mtopics_t;

/*  Compile and add one selector.  0, or -1 with err.  */
int fp_mtopics_add(fp_mtopics_t *set, const char *selector, char *err);

/*  True if a selector of the set matches the topic.  */
bool fp_mtopics_match(const fp_mtopics_t *set, const char *topic,
                      size_t len);

/*  True if a selector matches one of the n topics (what a subscriber
 *  needs to see an update).  */
bool fp_mtopics_match_some(const fp_mtopics_t *set,
                           const char *const *topics, size_t n);

/*  True if every one of the n topics is matched by some selector (what a
 *  publisher's claim must grant).  */
bool fp_mtopics_match_all(const fp_mtopics_t *set,
                          const char *const *topics, size_t n);

/*  Free the selectors; the set is empty again.  */
void fp_mtopics_clear(fp_mtopics_t *set);

#endif
