/*  lg_mem: memory (RSS and PSS from /proc/PID/smaps_rollup) and CPU
 *  (utime + stime) of every process in the trees below some root PIDs,
 *  summed and split by command name.  The trees are walked at every
 *  sample, so workers a server forks later are counted too.
 */
#include "lg.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    pid_t pid, ppid;
    char comm[16];
    double cpu_s;
} proc_t;

static int
s_read_stat(pid_t pid, proc_t *p)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *l = strchr(buf, '('), *r = strrchr(buf, ')');
    if (!l || !r)
        return -1;
    size_t cl = (size_t) (r - l - 1);
    if (cl > sizeof p->comm - 1)
        cl = sizeof p->comm - 1;
    memcpy(p->comm, l + 1, cl);
    p->comm[cl] = '\0';
    /*  fields after ")": state ppid ... utime(14) stime(15)  */
    char state;
    int ppid;
    unsigned long ut = 0, st = 0;
    if (sscanf(r + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &state, &ppid, &ut, &st) < 4)
        return -1;
    p->pid = pid;
    p->ppid = ppid;
    p->cpu_s = (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
    return 0;
}

static void
s_read_mem(pid_t pid, uint64_t *rss, uint64_t *pss)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
    FILE *f = fopen(path, "r");
    *rss = *pss = 0;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "Rss: %llu kB", &v) == 1)
            *rss = v;
        else if (sscanf(line, "Pss: %llu kB", &v) == 1)
            *pss = v;
    }
    fclose(f);
}

static bool
s_in_tree(const proc_t *all, int n, int i, const pid_t *roots, int nroots)
{
    for (int depth = 0; depth < 16; depth++) {
        for (int r = 0; r < nroots; r++)
            if (all[i].pid == roots[r])
                return true;
        int parent = -1;
        for (int k = 0; k < n; k++)
            if (all[k].pid == all[i].ppid) {
                parent = k;
                break;
            }
        if (parent < 0)
            return false;
        i = parent;
    }
    return false;
}

void
lg_mem_sample(const pid_t *roots, int nroots, lg_mem_t *m)
{
    static proc_t all[8192];
    int n = 0;
    memset(m, 0, sizeof *m);
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && n < 8192) {
        pid_t pid = (pid_t) atoi(e->d_name);
        if (pid > 0 && s_read_stat(pid, &all[n]) == 0)
            n++;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        if (!s_in_tree(all, n, i, roots, nroots))
            continue;
        uint64_t rss, pss;
        s_read_mem(all[i].pid, &rss, &pss);
        m->nprocs++;
        m->rss_kb += rss;
        m->pss_kb += pss;
        m->cpu_s += all[i].cpu_s;
        int k = 0;
        while (k < m->nnames && strcmp(m->by_name[k].name, all[i].comm))
            k++;
        if (k == m->nnames) {
            if (k == 16)
                continue;
            m->nnames++;
            snprintf(m->by_name[k].name, sizeof m->by_name[k].name, "%s",
                     all[i].comm);
        }
        m->by_name[k].rss_kb += rss;
        m->by_name[k].pss_kb += pss;
        m->by_name[k].cpu_s += all[i].cpu_s;
        m->by_name[k].count++;
    }
}
