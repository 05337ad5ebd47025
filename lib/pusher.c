/*  pusher: apps, signatures and channel names of the Pusher protocol
 *  (see pusher.h).  */
#include "pusher.h"
#include "conf.h"
#include "mem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_APPS 1024

/* ------------------------------------------------------------ apps */

static int
s_option(fp_pusher_app_t *app, const char *opt, char *why)
{
    const char *mpm = "max-presence-members=", *wh = "webhook=";
    if (strncmp(opt, wh, strlen(wh)) == 0) {
        const char *url = opt + strlen(wh);
        if ((strncmp(url, "http://", 7) != 0 &&
             strncmp(url, "https://", 8) != 0) || strlen(url) > 2048 ||
            strlen(url) < 10) {
            snprintf(why, FP_ERR_LEN, "webhook=URL: an http:// or https:// "
                     "URL of at most 2048 bytes");
            return -1;
        }
        free(app->webhook);
        app->webhook = fp_strdup(url);
        return 0;
    }
    if (strcmp(opt, "client-events") == 0) {
        app->client_events = true;
        return 0;
    }
    if (strncmp(opt, mpm, strlen(mpm)) == 0) {
        char *end;
        errno = 0;
        long long v = strtoll(opt + strlen(mpm), &end, 10);
        if (errno || *end || end == opt + strlen(mpm) || v < 1 ||
            v > 100000) {
            snprintf(why, FP_ERR_LEN, "%s: a number from 1 to 100000", mpm);
            return -1;
        }
        app->max_presence_members = v;
        return 0;
    }
    snprintf(why, FP_ERR_LEN, "unknown option '%.64s' (client-events, "
             "max-presence-members=N, webhook=URL)", opt);
    return -1;
}

static int
s_app(fp_pusher_apps_t *apps, char **argv, int argc, char *why)
{
    if (argc < 3) {
        snprintf(why, FP_ERR_LEN, "want: ID KEY SECRET [options]");
        return -1;
    }
    if (!fp_id_valid(argv[0], FP_PUSHER_ID_MAX) ||
        !fp_id_valid(argv[1], FP_PUSHER_ID_MAX)) {
        snprintf(why, FP_ERR_LEN, "app id and key: 1 to %d of A-Z a-z 0-9 "
                 "_ - .", FP_PUSHER_ID_MAX);
        return -1;
    }
    if (strlen(argv[2]) < 8) {
        snprintf(why, FP_ERR_LEN, "the secret of app %s is shorter than 8 "
                 "bytes", argv[0]);
        return -1;
    }
    for (size_t i = 0; i < apps->count; i++)
        if (strcmp(apps->apps[i].id, argv[0]) == 0 ||
            strcmp(apps->apps[i].key, argv[1]) == 0) {
            snprintf(why, FP_ERR_LEN, "app id or key repeated");
            return -1;
        }
    if (apps->count == MAX_APPS) {
        snprintf(why, FP_ERR_LEN, "more than %d apps", MAX_APPS);
        return -1;
    }
    fp_pusher_app_t app = { .max_presence_members = 100 };
    for (int i = 3; i < argc; i++)
        if (s_option(&app, argv[i], why) < 0) {
            free(app.webhook);
            return -1;
        }
    app.id = fp_strdup(argv[0]);
    app.key = fp_strdup(argv[1]);
    app.secret = fp_strdup(argv[2]);
    apps->apps = fp_realloc(apps->apps, (apps->count + 1) * sizeof app);
    apps->apps[apps->count++] = app;
    return 0;
}

fp_pusher_apps_t *
fp_pusher_apps_load(const char *path, char *err)
{
    char line[4096], *argv[64], why[FP_ERR_LEN];
    FILE *f = fopen(path, "r");
    int lineno = 0;

    if (!f) {
        snprintf(err, FP_ERR_LEN, "%s: %s", path, strerror(errno));
        return NULL;
    }
    fp_pusher_apps_t *apps = fp_calloc(1, sizeof *apps);
    while (fgets(line, sizeof line, f)) {
        lineno++;
        int argc = fp_conf_split(line, argv, 64);
        if (argc == 0)
            continue;
        if (argc < 0 || s_app(apps, argv, argc, why) < 0) {
            snprintf(err, FP_ERR_LEN, "%s:%d: %s", path, lineno,
                     argc < 0 ? "unreadable line" : why);
            fclose(f);
            fp_pusher_apps_destroy(&apps);
            return NULL;
        }
    }
    fclose(f);
    if (apps->count == 0) {
        snprintf(err, FP_ERR_LEN, "%s: no app (want: ID KEY SECRET)", path);
        fp_pusher_apps_destroy(&apps);
    }
    return apps;
}

void
fp_pusher_apps_destroy(fp_pusher_apps_t **apps_p)
{
    fp_pusher_apps_t *apps = *apps_p;
    if (!apps)
        return;
    for (size_t i = 0; i < apps->count; i++) {
        free(apps->apps[i].id);
        free(apps->apps[i].key);
        OPENSSL_cleanse(apps->apps[i].secret, strlen(apps->apps[i].secret));
        free(apps->apps[i].secret);
        free(apps->apps[i].webhook);
    }
    free(apps->apps);
    free(apps);
    *apps_p = NULL;
}

static const fp_pusher_app_t *
s_find(const fp_pusher_apps_t *apps, bool by_key, const char *s, size_t len)
{
    for (size_t i = 0; apps && i < apps->count; i++) {
        const char *v = by_key ? apps->apps[i].key : apps->apps[i].id;
        if (strlen(v) == len && memcmp(v, s, len) == 0)
            return &apps->apps[i];
    }
    return NULL;
}

const fp_pusher_app_t *
fp_pusher_app_by_key(const fp_pusher_apps_t *apps, const char *key,
                     size_t len)
{
    return s_find(apps, true, key, len);
}

const fp_pusher_app_t *
fp_pusher_app_by_id(const fp_pusher_apps_t *apps, const char *id, size_t len)
{
    return s_find(apps, false, id, len);
}

/* ------------------------------------------------------------ channels */

static bool
s_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

fp_pusher_kind_t
fp_pusher_kind(const char *name)
{
    if (s_has_prefix(name, FP_PUSHER_USER_PREFIX))
        return FP_PUSHER_USER;
    if (s_has_prefix(name, "private-encrypted-"))
        return FP_PUSHER_ENCRYPTED;
    if (s_has_prefix(name, "private-"))
        return FP_PUSHER_PRIVATE;
    if (s_has_prefix(name, "presence-"))
        return FP_PUSHER_PRESENCE;
    return FP_PUSHER_PUBLIC;
}

int
fp_pusher_channel(const fp_pusher_app_t *app, const char *name, size_t len,
                  char *out, char *err)
{
    size_t idl = strlen(app->id), ul = strlen(FP_PUSHER_USER_PREFIX);
    if (len > ul && strncmp(name, FP_PUSHER_USER_PREFIX, ul) == 0) {
        /*  a user's channel: "ID:~user-UID", out of Pusher names' reach  */
        char uid[FP_PUSHER_NAME_MAX + 1];
        if (len - ul > FP_PUSHER_NAME_MAX - 6) {
            snprintf(err, FP_ERR_LEN, "Invalid user id: too long");
            return -1;
        }
        memcpy(uid, name + ul, len - ul);
        uid[len - ul] = '\0';
        return fp_pusher_user_channel(app, uid, out, err);
    }
    if (len == 0 || len > FP_PUSHER_NAME_MAX) {
        snprintf(err, FP_ERR_LEN, "Invalid channel name: 1 to %d characters",
                 FP_PUSHER_NAME_MAX);
        return -1;
    }
    if (idl + 1 + len > FP_CHANNEL_MAX) {
        snprintf(err, FP_ERR_LEN, "Channel name too long: at most %zu "
                 "characters for app %s", FP_CHANNEL_MAX - idl - 1, app->id);
        return -1;
    }
    memcpy(out, app->id, idl);
    out[idl] = ':';
    memcpy(out + idl + 1, name, len);
    out[idl + 1 + len] = '\0';
    /*  Pusher allows A-Z a-z 0-9 _ - = @ , . ;  fastpush has no , ;  */
    for (size_t i = 0; i < len; i++)
        if (name[i] == ':' || name[i] == '~' || name[i] == '+' ||
            name[i] == ',' || name[i] == ';' ||
            !fp_channel_valid(name + i, 1)) {
            snprintf(err, FP_ERR_LEN, "Invalid channel name: characters "
                     "A-Z a-z 0-9 _ - = @ . only");
            return -1;
        }
    return 0;
}

int
fp_pusher_user_channel(const fp_pusher_app_t *app, const char *user_id,
                       char *out, char *err)
{
    size_t n = strlen(user_id);
    if (n == 0 || strlen(app->id) + 7 + n > FP_CHANNEL_MAX) {
        snprintf(err, FP_ERR_LEN, "Invalid user id: 1 to %zu characters",
                 FP_CHANNEL_MAX > strlen(app->id) + 7
                 ? FP_CHANNEL_MAX - strlen(app->id) - 7 : 0);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (user_id[i] == ':' || user_id[i] == '~' ||
            !fp_channel_valid(user_id + i, 1)) {
            snprintf(err, FP_ERR_LEN, "Invalid user id: characters A-Z a-z "
                     "0-9 _ - = @ . + only");
            return -1;
        }
    snprintf(out, FP_CHANNEL_MAX + 1, "%s:~user-%s", app->id, user_id);
    return 0;
}

const char *
fp_pusher_name(const fp_pusher_app_t *app, const char *channel,
               char buf[FP_PUSHER_NAME_MAX + 1])
{
    size_t idl = strlen(app->id);
    if (strncmp(channel, app->id, idl) != 0 || channel[idl] != ':' ||
        channel[idl + 1] == '\0')
        return NULL;
    const char *name = channel + idl + 1;
    if (!s_has_prefix(name, "~user-"))
        return name;
    snprintf(buf, FP_PUSHER_NAME_MAX + 1, "%s%s", FP_PUSHER_USER_PREFIX,
             name + 6);
    return buf;
}

bool
fp_pusher_reserved(const char *channel)
{
    const char *c = strchr(channel, ':');
    return c && c != channel && (s_has_prefix(c + 1, "private-") ||
                                 s_has_prefix(c + 1, "presence-") ||
                                 s_has_prefix(c + 1, "~user-"));
}

bool
fp_pusher_socket_id_valid(const char *s, size_t len)
{
    size_t dot = 0, i;
    if (len < 3 || len >= FP_PUSHER_SOCKET_ID_MAX)
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] == '.' && dot == 0 && i > 0)
            dot = i;
        else if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return dot > 0 && dot < len - 1;
}

/* ------------------------------------------------------------ event names */

int
fp_pusher_type_encode(const char *name, size_t len, char *out, char *err)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    if (len == 0 || len > 200 || !fp_id_byte((unsigned char) name[0]) ||
        strchr("_.-", name[0])) {
        snprintf(err, FP_ERR_LEN, "Invalid event name: 1 to 200 characters, "
                 "starting with a letter or digit");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, FP_ERR_LEN, "Invalid event name: control "
                     "character");
            return -1;
        }
        if (o + 4 > FP_TYPE_MAX + 1) {
            snprintf(err, FP_ERR_LEN, "Event name too long once encoded "
                     "(%d bytes; each character other than A-Z a-z 0-9 _ . - "
                     "takes 3)", FP_TYPE_MAX);
            return -1;
        }
        if (fp_id_byte(c)) {
            out[o++] = (char) c;
        } else {
            out[o++] = ':';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    out[o] = '\0';
    if (!fp_type_valid(out)) {
        snprintf(err, FP_ERR_LEN, "Invalid event name: '%s' is reserved",
                 out);
        return -1;
    }
    return 0;
}

static int
s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void
fp_pusher_type_decode(const char *type, char *out)
{
    size_t o = 0;
    for (size_t i = 0; type[i] && o < FP_TYPE_MAX; i++) {
        int hi, lo;
        if (type[i] == ':' && (hi = s_hexval(type[i + 1])) >= 0 &&
            (lo = s_hexval(type[i + 2])) >= 0 && (hi || lo >= 0x20)) {
            out[o++] = (char) (hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = type[i];
        }
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------ signatures */

static void
s_hex(const unsigned char *md, unsigned n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * n] = '\0';
}

void
fp_pusher_hmac_hex(const char *secret, const void *msg, size_t len,
                   char hex[FP_PUSHER_HMAC_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    HMAC(EVP_sha256(), secret, (int) strlen(secret), msg, len, md, &n);
    s_hex(md, n, hex);
}

bool
fp_pusher_hmac_ok(const char *secret, const void *msg, size_t len,
                  const char *sig, size_t sig_len)
{
    char want[FP_PUSHER_HMAC_HEX];
    fp_pusher_hmac_hex(secret, msg, len, want);
    /*  The length of a signature is public (64); only its bytes are
     *  compared in constant time.  */
    if (sig_len != FP_PUSHER_HMAC_HEX - 1)
        return false;
    return CRYPTO_memcmp(want, sig, sig_len) == 0;
}

void
fp_pusher_md5_hex(const void *body, size_t len, char hex[FP_PUSHER_MD5_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(body, len, md, &n, EVP_md5(), NULL);
    s_hex(md, n, hex);
}

#ifdef FP_TEST
#include "test.h"

#include <unistd.h>

static fp_pusher_apps_t *
s_load_text(const char *text, char *err)
{
    char path[] = "/tmp/fp-pusher-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t) strlen(text))
        return NULL;
    close(fd);
    fp_pusher_apps_t *apps = fp_pusher_apps_load(path, err);
    unlink(path);
    return apps;
}

static void
s_test_apps(void)
{
    char err[FP_ERR_LEN];
    fp_pusher_apps_t *apps = s_load_text(
        "# id key secret\n1001 key-a secret-aaaa client-events\n\n"
        "app2 key-b secret-bbbb max-presence-members=3 "
        "webhook=http://127.0.0.1:9/hooks\n", err);
    FP_CHECK(apps && apps->count == 2, "two apps load");
    const fp_pusher_app_t *a = fp_pusher_app_by_key(apps, "key-a", 5);
    FP_CHECK(a && strcmp(a->id, "1001") == 0 && a->client_events &&
             a->max_presence_members == 100, "found by key, options");
    a = fp_pusher_app_by_id(apps, "app2", 4);
    FP_CHECK(a && !a->client_events && a->max_presence_members == 3 &&
             a->webhook && strcmp(a->webhook, "http://127.0.0.1:9/hooks") == 0,
             "found by id, max-presence-members, webhook");
    FP_CHECK(!fp_pusher_app_by_key(apps, "key-", 4) &&
             !fp_pusher_app_by_id(apps, "app", 3), "no prefix match");
    fp_pusher_apps_destroy(&apps);
    FP_CHECK(apps == NULL, "destroy NULLs");

    const char *bad[] = {
        "1 k\n", "1 k short\n", "1 k secret-xx bogus\n",
        "1 k secret-xx\n1 k2 secret-yy\n", "1 k secret-xx\n2 k secret-yy\n",
        "a:b k secret-xx\n", "1 k secret-xx max-presence-members=0\n",
        "1 k secret-xx webhook=ftp://x.example/\n",
        "1 k secret-xx webhook=http://x.example/ bogus\n",
        "# nothing\n", NULL
    };
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        apps = s_load_text(bad[i], err);
        FP_CHECK(!apps && strstr(err, "/tmp/fp-pusher-"), "bad apps file "
                 "refused with its path");
    }
    apps = fp_pusher_apps_load("/nonexistent/apps", err);
    FP_CHECK(!apps && strstr(err, "No such file"), "missing file refused");
}

static void
s_test_channels(void)
{
    fp_pusher_app_t app = { .id = "1001" };
    char out[FP_CHANNEL_MAX + 1], err[FP_ERR_LEN], nb[FP_PUSHER_NAME_MAX + 1];
    FP_CHECK(fp_pusher_channel(&app, "private-App.User.1", 18, out, err) == 0
             && strcmp(out, "1001:private-App.User.1") == 0, "name mapped");
    FP_CHECK(strcmp(fp_pusher_name(&app, out, nb), "private-App.User.1") == 0,
             "and back");
    FP_CHECK(!fp_pusher_name(&app, "10011:x", nb) && !fp_pusher_name(&app,
             "1001:", nb) && !fp_pusher_name(&app, "news", nb), "other "
             "channels are not the app's");
    FP_CHECK(fp_pusher_channel(&app, "#server-to-user-42", 18, out, err) == 0
             && strcmp(out, "1001:~user-42") == 0 &&
             strcmp(fp_pusher_name(&app, out, nb), "#server-to-user-42") == 0
             && fp_pusher_kind("#server-to-user-42") == FP_PUSHER_USER &&
             fp_pusher_reserved(out), "a user's channel, out of reach of "
             "Pusher names, reserved");
    FP_CHECK(fp_pusher_channel(&app, "#server-to-user-", 16, out, err) < 0 &&
             fp_pusher_channel(&app, "#server-to-user-a:b", 19, out, err) < 0
             && fp_pusher_channel(&app, "#other", 6, out, err) < 0 &&
             fp_pusher_channel(&app, "~user-1", 7, out, err) < 0,
             "bad user ids, other '#' names, '~' refused");
    FP_CHECK(fp_pusher_channel(&app, "a,b", 3, out, err) < 0 &&
             fp_pusher_channel(&app, "a:b", 3, out, err) < 0 &&
             fp_pusher_channel(&app, "a b", 3, out, err) < 0 &&
             fp_pusher_channel(&app, "", 0, out, err) < 0, "bad names");
    char longname[200];
    memset(longname, 'x', sizeof longname);
    FP_CHECK(fp_pusher_channel(&app, longname, 123, out, err) == 0 &&
             fp_pusher_channel(&app, longname, 124, out, err) < 0 &&
             strstr(err, "123"), "length bounded by the fastpush channel");
    FP_CHECK(fp_pusher_kind("private-encrypted-x") == FP_PUSHER_ENCRYPTED &&
             fp_pusher_kind("private-x") == FP_PUSHER_PRIVATE &&
             fp_pusher_kind("presence-x") == FP_PUSHER_PRESENCE &&
             fp_pusher_kind("privatex") == FP_PUSHER_PUBLIC, "kinds");
    FP_CHECK(fp_pusher_reserved("1:private-a") &&
             fp_pusher_reserved("1:presence-a") &&
             !fp_pusher_reserved("1:public") && !fp_pusher_reserved(
             "private-a") && !fp_pusher_reserved(":private-a"),
             "reserved channels");
    FP_CHECK(fp_pusher_socket_id_valid("123.456", 7) &&
             !fp_pusher_socket_id_valid("123.", 4) &&
             !fp_pusher_socket_id_valid(".4", 2) &&
             !fp_pusher_socket_id_valid("1.2.3", 5) &&
             !fp_pusher_socket_id_valid("1a.2", 4), "socket ids");
}

static void
s_test_signatures(void)
{
    /*  Pusher's documented example (pusher.com/docs/channels/library_auth_
     *  reference/auth-signatures): key 278d425bdf160c739803, secret
     *  7ad3773142a6692b25b8, socket 1234.1234, channel private-foobar.  */
    char hex[FP_PUSHER_HMAC_HEX], md5[FP_PUSHER_MD5_HEX];
    const char *msg = "1234.1234:private-foobar";
    const char *want = "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135"
                       "bf843651c3a4";
    fp_pusher_hmac_hex("7ad3773142a6692b25b8", msg, strlen(msg), hex);
    FP_CHECK(strcmp(hex, want) == 0, "Pusher's documented signature");
    FP_CHECK(fp_pusher_hmac_ok("7ad3773142a6692b25b8", msg, strlen(msg),
                               want, 64), "signature accepted");
    char wrong[65];
    memcpy(wrong, want, 65);
    wrong[63] ^= 1;
    FP_CHECK(!fp_pusher_hmac_ok("7ad3773142a6692b25b8", msg, strlen(msg),
                                wrong, 64) &&
             !fp_pusher_hmac_ok("7ad3773142a6692b25b8", msg, strlen(msg),
                                want, 63), "wrong or short signature");
    fp_pusher_md5_hex("", 0, md5);
    FP_CHECK(strcmp(md5, "d41d8cd98f00b204e9800998ecf8427e") == 0,
             "md5 of nothing");
}

static void
s_test_types(void)
{
    char out[FP_TYPE_MAX + 1], back[FP_TYPE_MAX + 1], err[FP_ERR_LEN];
    const char *laravel = "Illuminate\\Notifications\\Events\\"
                          "BroadcastNotificationCreated";
    FP_CHECK(fp_pusher_type_encode(laravel, strlen(laravel), out, err) == 0
             && strcmp(out, "Illuminate:5cNotifications:5cEvents:5c"
                       "BroadcastNotificationCreated") == 0,
             "a Laravel class name encoded");
    fp_pusher_type_decode(out, back);
    FP_CHECK(strcmp(back, laravel) == 0, "and decoded");
    FP_CHECK(fp_pusher_type_encode("client-typing", 13, out, err) == 0 &&
             strcmp(out, "client-typing") == 0, "plain names unchanged");
    FP_CHECK(fp_pusher_type_encode("a:b \xc3\xa9", 6, out, err) == 0 &&
             strcmp(out, "a:3ab:20:c3:a9") == 0, "':' , space and UTF-8 "
             "encoded");
    fp_pusher_type_decode(out, back);
    FP_CHECK(strcmp(back, "a:b \xc3\xa9") == 0, "and decoded back");
    fp_pusher_type_decode("x:zz:0a", back);
    FP_CHECK(strcmp(back, "x:zz:0a") == 0, "bad or control escapes stay "
             "as they are");
    FP_CHECK(fp_pusher_type_encode("", 0, out, err) < 0 &&
             fp_pusher_type_encode("_x", 2, out, err) < 0 &&
             fp_pusher_type_encode("a\nb", 3, out, err) < 0 &&
             fp_pusher_type_encode("error", 5, out, err) < 0,
             "empty, a bad first byte, control characters, reserved");
    char big[200];
    memset(big, '\\', sizeof big);
    big[0] = 'a';
    FP_CHECK(fp_pusher_type_encode(big, 67, out, err) == 0 &&
             fp_pusher_type_encode(big, 68, out, err) < 0, "bounded by "
             "FP_TYPE_MAX once encoded");
}

void
fp_pusher_test(void)
{
    s_test_apps();
    s_test_types();
    s_test_channels();
    s_test_signatures();
}
#endif
