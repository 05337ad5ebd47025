/*  log: the one place where fastpush programs print diagnostics.
 *
 *  Lines go to stderr (systemd, the web server or the test harness collect
 *  them) as "TIME PROG[PID]: LEVEL: FUNC: message".  fp_log_warn appends
 *  strerror(errno), fp_log_warnx does not (OpenBSD relayd's log.c).  The
 *  logging functions preserve errno.  fp_fatal/fp_fatalx log and exit(1);
 *  only startup code calls them.  lib/ modules never
 *  log: they return -1 and fill an error buffer.
 */
#ifndef FP_LOG_H
#define FP_LOG_H

#include <stdarg.h>

enum {
    FP_LOG_ERROR = 0,
    FP_LOG_WARN = 1,
    FP_LOG_INFO = 2,
    FP_LOG_DEBUG = 3
};

/*  Set the program name shown on each line and the most verbose level that
 *  is printed (FP_LOG_INFO by default).  */
void fp_log_init(const char *prog, int level);

/*  Change the level; returns the previous one.  */
int fp_log_set_level(int level);

/*  Parse "error", "warn", "info" or "debug"; -1 if unknown.  */
int fp_log_level_parse(const char *name);

/*  True if a message at `level` would be printed.  */
int fp_log_enabled(int level);

/*  Print one line at `level`; `with_errno` appends ": strerror(errno)".  */
void fp_log_msg(int level, int with_errno, const char *func,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*  Log at error level and exit(1).  */
void fp_log_fatal(int with_errno, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/*  A budget of lines per second for messages caused by remote input, so a
 *  flood of bad requests cannot flood the log.  Zero-initialise.  */
typedef struct {
    long window;                /*  second the counts belong to  */
    int count;                  /*  lines printed in that second  */
    unsigned long suppressed;   /*  lines withheld since the last report  */
} fp_log_limit_t;

/*  True if one more line may be printed now (at most 10 a second).  When a
 *  new second starts after withheld lines, logs how many were withheld.  */
int fp_log_limit_ok(fp_log_limit_t *l);

#define fp_log_warn(...)  fp_log_msg(FP_LOG_WARN, 1, __func__, __VA_ARGS__)
#define fp_log_warnx(...) fp_log_msg(FP_LOG_WARN, 0, __func__, __VA_ARGS__)
#define fp_log_error(...) fp_log_msg(FP_LOG_ERROR, 0, __func__, __VA_ARGS__)
#define fp_log_info(...)  fp_log_msg(FP_LOG_INFO, 0, __func__, __VA_ARGS__)
#define fp_log_debug(...) \
    do { if (fp_log_enabled(FP_LOG_DEBUG)) \
             fp_log_msg(FP_LOG_DEBUG, 0, __func__, __VA_ARGS__); } while (0)
#define fp_fatal(...)     fp_log_fatal(1, __func__, __VA_ARGS__)
#define fp_fatalx(...)    fp_log_fatal(0, __func__, __VA_ARGS__)

#endif
