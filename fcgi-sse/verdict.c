/*  verdict: the first refusal of a request, kept until it is answered.  */
#include "ssed.h"

#include <stdio.h>

void
ssed_refuse(ssed_verdict_t *v, int status, const char *code, const char *msg)
{
    if (v->status)
        return;
    v->status = status;
    v->code = code;
    snprintf(v->msg, sizeof v->msg, "%s", msg);
}
