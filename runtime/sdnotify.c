/*  sdnotify: systemd service notifications (see sdnotify.h).  */
#include "sdnotify.h"

#include <systemd/sd-daemon.h>

void
fp_sd_ready(void)
{
    sd_notify(0, "READY=1");
}

void
fp_sd_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

int64_t
fp_sd_watchdog_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    int64_t ms = (int64_t) (usec / 2000);
    return ms > 0 ? ms : 1;
}

void
fp_sd_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}
