/*  libFuzzer target for the configuration file parser (lib/conf.c,
 *  fp_conf_load_string: what fp_conf_load reads from broker.conf,
 *  fastpush-sse.conf, ...), over a table with a directive of every type,
 *  the shared auth directives (fp_access_opts, nested) and the broker
 *  link directives (fp_sockauth_opts).
 *
 *  Input: the text of a config file.  Checks: whatever is accepted lies
 *  in its directive's range and is one of its choices; a refusal names
 *  the file and line; freeing the table leaves nothing behind.
 */
#include "access.h"
#include "conf.h"
#include "err.h"
#include "sockauth.h"
#include "fuzz.h"

#include <string.h>

static char *s_str;
static int64_t s_int, s_mode;
static uint64_t s_size, s_ms;
static bool s_bool;
static int s_enum;
static fp_strlist_t s_list;
static const char *const s_choices[] = { "always", "everysec", "no", NULL };

static const fp_conf_opt_t s_opts[] = {
    { "name", FP_CONF_STR, &s_str, 0, 0, NULL, "a word" },
    { "count", FP_CONF_INT, &s_int, -5, 1000, NULL, "an integer" },
    { "bytes", FP_CONF_SIZE, &s_size, 1, 1 << 30, NULL, "a size" },
    { "wait", FP_CONF_MS, &s_ms, 0, 0, NULL, "a duration" },
    { "flag", FP_CONF_BOOL, &s_bool, 0, 0, NULL, "on/off" },
    { "fsync", FP_CONF_ENUM, &s_enum, 0, 0, s_choices, "a choice" },
    { "list", FP_CONF_LIST, &s_list, 0, 0, NULL, "words" },
    { "mode", FP_CONF_MODE, &s_mode, 0, 0777, NULL, "octal" },
    { "", FP_CONF_NEST, (void *) fp_access_opts, 0, 0, NULL, NULL },
    { "", FP_CONF_NEST, (void *) fp_sockauth_opts, 0, 0, NULL, NULL },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    char err[FP_ERR_LEN] = "";

    s_int = 0, s_mode = 0, s_size = 1, s_ms = 0, s_enum = 0;
    if (fp_conf_load_string(s_opts, text, "fuzz.conf", err) == 0) {
        FUZZ_CHECK(s_int >= -5 && s_int <= 1000, "int range");
        FUZZ_CHECK(s_size >= 1 && s_size <= 1 << 30, "size range");
        FUZZ_CHECK(s_mode >= 0 && s_mode <= 0777, "mode range");
        FUZZ_CHECK(s_enum >= 0 && s_enum <= 2, "enum choice");
        for (int i = 0; i < s_list.count; i++)
            FUZZ_CHECK(s_list.items[i] != NULL, "list item");
    } else {
        FUZZ_CHECK(strncmp(err, "fuzz.conf:", 10) == 0, "error names file");
    }
    fp_conf_free(s_opts);
    FUZZ_CHECK(s_str == NULL && s_list.count == 0, "fp_conf_free");
    free(text);
    return 0;
}
