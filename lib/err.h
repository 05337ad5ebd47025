/*  err: the size of the error buffers lib/ functions fill.
 *
 *  lib/ never logs: a function that can fail on outside input returns
 *  -1 (or NULL) and writes a one-line reason into a caller's buffer of
 *  FP_ERR_LEN bytes, as Redis's anet does.  */
#ifndef FP_ERR_H
#define FP_ERR_H

#define FP_ERR_LEN 256

#endif
