/*  sdnotify: systemd service notifications (Type=notify, WatchdogSec=)
 *  through libsystemd's sd_notify.  Outside systemd (no NOTIFY_SOCKET)
 *  every call does nothing, so the programs run the same anywhere.  */
#ifndef FP_SDNOTIFY_H
#define FP_SDNOTIFY_H

#include <stdint.h>

/*  Tell the service manager this process serves (READY=1), or that it
 *  is stopping (STOPPING=1).  */
void fp_sd_ready(void);
void fp_sd_stopping(void);

/*  How often (ms) to call fp_sd_watchdog: half of the unit's
 *  WatchdogSec, or 0 when no watchdog is asked for.  */
int64_t fp_sd_watchdog_ms(void);

/*  The loop is turning (WATCHDOG=1): call it from the loop itself, so a
 *  loop that hangs stops the pings and systemd restarts the process.  */
void fp_sd_watchdog(void);

#endif
