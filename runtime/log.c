/*  log: diagnostics to stderr (see log.h).  */
#include "log.h"
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *s_prog = "fastpush";
static int s_level = FP_LOG_INFO;
static const char *s_names[] = { "error", "warn", "info", "debug" };

void
fp_log_init(const char *prog, int level)
{
    s_prog = prog;
    s_level = level;
}

int
fp_log_set_level(int level)
{
    int old = s_level;
    s_level = level;
    return old;
}

int
fp_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, s_names[i]) == 0)
            return i;
    return -1;
}

int
fp_log_enabled(int level)
{
    return level <= s_level;
}

static void
s_vlog(int level, int with_errno, const char *func, const char *fmt,
       va_list ap)
{
    int saved = errno;
    char msg[1024], stamp[32];
    struct tm tm;

    vsnprintf(msg, sizeof msg, fmt, ap);
    int64_t now = fp_clock_wall_ms();
    time_t sec = (time_t) (now / 1000);
    gmtime_r(&sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (with_errno)
        fprintf(stderr, "%s.%03dZ %s[%d]: %s: %s: %s: %s\n", stamp,
                (int) (now % 1000), s_prog, (int) getpid(),
                s_names[level], func, msg, strerror(saved));
    else
        fprintf(stderr, "%s.%03dZ %s[%d]: %s: %s: %s\n", stamp,
                (int) (now % 1000), s_prog, (int) getpid(),
                s_names[level], func, msg);
    errno = saved;
}

void
fp_log_msg(int level, int with_errno, const char *func, const char *fmt, ...)
{
    va_list ap;

    if (level > s_level)
        return;
    va_start(ap, fmt);
    s_vlog(level, with_errno, func, fmt, ap);
    va_end(ap);
}

void
fp_log_fatal(int with_errno, const char *func, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    s_vlog(FP_LOG_ERROR, with_errno, func, fmt, ap);
    va_end(ap);
    exit(1);
}

int
fp_log_limit_ok(fp_log_limit_t *l)
{
    long sec = (long) (fp_clock_ms() / 1000);
    if (sec != l->window) {
        if (l->suppressed)
            fp_log_msg(FP_LOG_WARN, 0, __func__, "%lu similar messages "
                       "suppressed", l->suppressed);
        l->window = sec;
        l->count = 0;
        l->suppressed = 0;
    }
    if (l->count >= 10) {
        l->suppressed++;
        return 0;
    }
    l->count++;
    return 1;
}

#ifdef FP_TEST
#include "test.h"

void
fp_log_test(void)
{
    FP_CHECK(fp_log_level_parse("DEBUG") == FP_LOG_DEBUG, "level parse");
    FP_CHECK(fp_log_level_parse("loud") == -1, "unknown level");
    int old = fp_log_set_level(FP_LOG_WARN);
    FP_CHECK(!fp_log_enabled(FP_LOG_INFO), "info hidden at warn");
    FP_CHECK(fp_log_enabled(FP_LOG_ERROR), "error shown at warn");
    errno = EINTR;
    fp_log_info("not printed");
    FP_CHECK(errno == EINTR, "errno preserved");
    fp_log_limit_t lim = { 0 };
    int allowed = 0;
    for (int i = 0; i < 50; i++)
        allowed += fp_log_limit_ok(&lim);
    FP_CHECK(allowed <= 20 && allowed >= 10, "rate limit");
    fp_log_set_level(old);
}
#endif
