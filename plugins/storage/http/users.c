/*
 * The user's row and profile:
 *
 *   POST /api/users/init     creates the row on the first call (email and
 *                            display name from the token)
 *   GET  /api/users/profile  the profile as the frontend reads it; a user
 *                            without a row gets the same shape from the
 *                            token and the defaults (nothing is written)
 *   PUT  /api/users/profile  a validated partial update that merges into
 *                            the stored profile atomically; a new display
 *                            name goes to the sign-in account too
 *                            (accounts.v1), and the reply says whether it
 *                            got there
 *
 * The stored profile (users.profile_json) is a JSON object with only what
 * the user set: {"preferences": {...}, "dateOfBirth", "visualImpairment",
 * "schoolContext", "adaptToAge"}. Reads overlay the stored preferences on
 * the defaults below, so a default can change without rewriting rows.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <lexiaid/svc/accounts_v1.h>

#include "storage.h"

#define USERS_MAX_DISPLAY_NAME 100   /* characters, after trimming */
#define USERS_MAX_SCHOOL_CONTEXT 200 /* characters */
#define USERS_MAX_VOICE 100          /* characters */

/* ------------------------------------------------------------------------ */
/* Preferences: names, types, ranges, defaults (the original's)             */

typedef enum users_pref_type {
    PREF_NUMBER, /* a JSON number within [lo, hi] */
    PREF_INT,    /* an integral JSON number within [lo, hi] */
    PREF_BOOL,
    PREF_STRING, /* at most hi characters */
    PREF_COLOR,  /* "#rgb" or "#rrggbb" */
    PREF_CHOICE, /* one of choices */
} users_pref_type;

typedef struct users_pref {
    const char *name;
    users_pref_type type;
    double lo, hi;
    const char *const *choices; /* PREF_CHOICE: NULL-terminated */
    int has_default;            /* 0: no default (absent until set) */
    double def_num;             /* NUMBER, INT, BOOL */
    const char *def_str;        /* STRING, COLOR, CHOICE */
} users_pref;

/* What the frontend's settings page offers (Inter, OpenDyslexic, Arial,
 * Verdana); the original accepted only the first three. */
static const char *const users_fonts[] = {"OpenDyslexic", "Inter", "Arial", "Verdana", NULL};

/* In the order the profile shows them. ttsDelay and
 * answerFormulationPauseDuration have no default in the original (the
 * frontend supplies its own): they appear once the user sets them. */
static const users_pref users_prefs[] = {
    {"fontSize", PREF_NUMBER, 10, 32, NULL, 1, 16, NULL},
    {"fontFamily", PREF_CHOICE, 0, 0, users_fonts, 1, 0, "OpenDyslexic"},
    {"lineSpacing", PREF_NUMBER, 1, 3, NULL, 1, 1.5, NULL},
    {"wordSpacing", PREF_NUMBER, 0.5, 2, NULL, 1, 1.2, NULL},
    {"textColor", PREF_COLOR, 0, 0, NULL, 1, 0, "#000000"},
    {"backgroundColor", PREF_COLOR, 0, 0, NULL, 1, 0, "#f8f9fa"},
    {"highContrast", PREF_BOOL, 0, 0, NULL, 1, 0, NULL},
    {"uiTtsEnabled", PREF_BOOL, 0, 0, NULL, 1, 1, NULL},
    {"ttsVoice", PREF_STRING, 0, USERS_MAX_VOICE, NULL, 1, 0, "en-US-Wavenet-D"},
    {"ttsSpeed", PREF_NUMBER, 0.5, 2, NULL, 1, 1.0, NULL},
    {"ttsPitch", PREF_NUMBER, -20, 20, NULL, 1, 0, NULL},
    {"cloudTtsEnabled", PREF_BOOL, 0, 0, NULL, 1, 0, NULL},
    {"cloudTtsVoice", PREF_STRING, 0, USERS_MAX_VOICE, NULL, 1, 0, "en-US-Neural2-F"},
    {"ttsDelay", PREF_NUMBER, 0, 10000, NULL, 0, 0, NULL},
    {"answerFormulationAutoPause", PREF_BOOL, 0, 0, NULL, 1, 0, NULL},
    {"answerFormulationPauseDuration", PREF_NUMBER, 1, 60, NULL, 0, 0, NULL},
    {"answerFormulationSessionsCompleted", PREF_INT, 0, 1e9, NULL, 1, 0, NULL},
    {"answerFormulationAutoPauseSuggestionDismissed", PREF_BOOL, 0, 0, NULL, 1, 0, NULL},
    {"answerFormulationOnboardingCompleted", PREF_BOOL, 0, 0, NULL, 1, 0, NULL},
};
#define USERS_N_PREFS (sizeof(users_prefs) / sizeof(users_prefs[0]))

static const users_pref *users_pref_find(const char *name)
{
    for (size_t i = 0; i < USERS_N_PREFS; i++)
        if (strcmp(users_prefs[i].name, name) == 0)
            return &users_prefs[i];
    return NULL;
}

static int users_is_number(json_object *v, double *out)
{
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return 0;
    *out = json_object_get_double(v);
    return isfinite(*out);
}

static int users_color_ok(const char *s, size_t len)
{
    if ((len != 4 && len != 7) || s[0] != '#')
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!storage_is_hex(s[i]))
            return 0;
    return 1;
}

/* Checks one preference value (not null); on failure writes why. */
static int users_pref_ok(const users_pref *pr, json_object *v, char *why, size_t whylen)
{
    double d;
    const char *s;
    size_t len;
    long chars;

    switch (pr->type) {
    case PREF_NUMBER:
        if (users_is_number(v, &d) && d >= pr->lo && d <= pr->hi)
            return 1;
        snprintf(why, whylen, "must be a number from %g to %g", pr->lo, pr->hi);
        return 0;
    case PREF_INT:
        if (users_is_number(v, &d) && d >= pr->lo && d <= pr->hi && d == floor(d))
            return 1;
        snprintf(why, whylen, "must be a whole number from %g to %g", pr->lo, pr->hi);
        return 0;
    case PREF_BOOL:
        if (json_object_is_type(v, json_type_boolean))
            return 1;
        snprintf(why, whylen, "must be true or false");
        return 0;
    case PREF_STRING:
        if (json_object_is_type(v, json_type_string)) {
            s = json_object_get_string(v);
            len = (size_t)json_object_get_string_len(v);
            chars = storage_utf8_chars(s, len);
            if (chars >= 0 && chars <= (long)pr->hi)
                return 1;
        }
        snprintf(why, whylen, "must be a string of at most %g characters", pr->hi);
        return 0;
    case PREF_COLOR:
        if (json_object_is_type(v, json_type_string) &&
            users_color_ok(json_object_get_string(v), (size_t)json_object_get_string_len(v)))
            return 1;
        snprintf(why, whylen, "must be a colour \"#rgb\" or \"#rrggbb\"");
        return 0;
    case PREF_CHOICE: {
        size_t at;
        if (json_object_is_type(v, json_type_string)) {
            s = json_object_get_string(v);
            for (size_t i = 0; pr->choices[i] != NULL; i++)
                if (strcmp(s, pr->choices[i]) == 0)
                    return 1;
        }
        at = (size_t)snprintf(why, whylen, "must be one of");
        for (size_t i = 0; pr->choices[i] != NULL && at < whylen; i++)
            at +=
                (size_t)snprintf(why + at, whylen - at, "%s %s", i > 0 ? "," : "", pr->choices[i]);
        return 0;
    }
    }
    return 0;
}

static json_object *users_pref_default(const users_pref *pr)
{
    switch (pr->type) {
    case PREF_NUMBER:
        return json_object_new_double(pr->def_num);
    case PREF_INT:
        return json_object_new_int64((int64_t)pr->def_num);
    case PREF_BOOL:
        return json_object_new_boolean(pr->def_num != 0);
    default:
        return json_object_new_string(pr->def_str);
    }
}

/* Every preference: the stored value when it is still valid, else the
 * default (none for preferences without one). */
static json_object *users_prefs_json(json_object *stored)
{
    json_object *o = json_object_new_object(), *v;
    char why[128];

    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < USERS_N_PREFS; i++) {
        const users_pref *pr = &users_prefs[i];
        if (stored != NULL && json_object_object_get_ex(stored, pr->name, &v) && v != NULL &&
            users_pref_ok(pr, v, why, sizeof(why)))
            json_object_object_add(o, pr->name, json_object_get(v));
        else if (pr->has_default)
            json_object_object_add(o, pr->name, users_pref_default(pr));
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* Profile validation (on the loop, before any database work)               */

/* A "YYYY-MM-DD" that is a real day, year >= 1900, not after today (UTC). */
static int users_date_ok(const char *s, size_t len)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char today[16];
    int y, m, d, dim;

    if (len != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    dim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        dim = 29;
    if (d > dim)
        return 0;
    storage_today(today, sizeof(today));
    return strcmp(s, today) <= 0;
}

/* Answers 400 INVALID_PROFILE naming the field. */
static lx_rc users_invalid(storage_state *st, lx_req *req, const char *field, const char *why)
{
    json_object *o = json_object_new_object();
    char msg[256];

    if (o == NULL)
        return LX_FAIL;
    snprintf(msg, sizeof(msg), "%s %s", field, why);
    json_object_object_add(o, "error", json_object_new_string(msg));
    json_object_object_add(o, "code", json_object_new_string("INVALID_PROFILE"));
    json_object_object_add(o, "field", json_object_new_string(field));
    storage_reply_obj(st, req, 400, o);
    return LX_DONE;
}

/* The validated change of one PUT: `patch` is the JSON text of an object
 * with the fields to set (null: remove, back to the default) and, under
 * "preferences", the preferences to set or remove; display_name is the
 * trimmed new name or NULL. */
typedef struct users_put {
    storage_state *st;
    lx_req *req;
    char *uid;
    char *email; /* for a row created by this PUT; may be NULL */
    char *patch;
    char *display_name;
} users_put;

/* Builds the patch from the body, or answers 400 and returns NULL. */
static json_object *users_patch_of(storage_state *st, lx_req *req, json_object *body,
                                   char **display_name, lx_rc *rc)
{
    json_object *patch = json_object_new_object(), *v, *prefs_in, *prefs_out;
    char why[128], field[192];

    *display_name = NULL;
    *rc = LX_DONE;
    if (patch == NULL)
        goto oom;

    if (json_object_object_get_ex(body, "displayName", &v) && v != NULL) {
        const char *s;
        size_t len;
        long chars;
        if (!json_object_is_type(v, json_type_string)) {
            *rc = users_invalid(st, req, "displayName", "must be a string");
            goto fail;
        }
        s = json_object_get_string(v);
        len = storage_trim_space(&s, (size_t)json_object_get_string_len(v));
        chars = storage_utf8_chars(s, len);
        if (chars < 1 || chars > USERS_MAX_DISPLAY_NAME || memchr(s, '\n', len) != NULL ||
            memchr(s, '\r', len) != NULL) {
            *rc = users_invalid(st, req, "displayName", "must be 1 to 100 characters on one line");
            goto fail;
        }
        *display_name = strndup(s, len);
        if (*display_name == NULL)
            goto oom;
    }

    if (json_object_object_get_ex(body, "preferences", &prefs_in)) {
        if (prefs_in != NULL && !json_object_is_type(prefs_in, json_type_object)) {
            *rc = users_invalid(st, req, "preferences", "must be an object");
            goto fail;
        }
        if (prefs_in != NULL) {
            prefs_out = json_object_new_object();
            if (prefs_out == NULL)
                goto oom;
            json_object_object_add(patch, "preferences", prefs_out);
            json_object_object_foreach(prefs_in, key, val)
            {
                const users_pref *pr = users_pref_find(key);
                if (pr == NULL)
                    continue; /* the frontend may send extras: not stored */
                if (val != NULL && !users_pref_ok(pr, val, why, sizeof(why))) {
                    snprintf(field, sizeof(field), "preferences.%s", key);
                    *rc = users_invalid(st, req, field, why);
                    goto fail;
                }
                json_object_object_add(prefs_out, key, json_object_get(val));
            }
        }
    }

    if (json_object_object_get_ex(body, "dateOfBirth", &v)) {
        if (v != NULL &&
            (!json_object_is_type(v, json_type_string) ||
             !users_date_ok(json_object_get_string(v), (size_t)json_object_get_string_len(v)))) {
            *rc = users_invalid(st, req, "dateOfBirth",
                                "must be a date \"YYYY-MM-DD\" from 1900 until today");
            goto fail;
        }
        json_object_object_add(patch, "dateOfBirth", json_object_get(v));
    }
    if (json_object_object_get_ex(body, "schoolContext", &v)) {
        long chars = v != NULL && json_object_is_type(v, json_type_string)
                         ? storage_utf8_chars(json_object_get_string(v),
                                              (size_t)json_object_get_string_len(v))
                         : -1;
        if (v != NULL && (chars < 0 || chars > USERS_MAX_SCHOOL_CONTEXT)) {
            *rc = users_invalid(st, req, "schoolContext",
                                "must be a string of at most 200 characters");
            goto fail;
        }
        json_object_object_add(patch, "schoolContext", json_object_get(v));
    }
    static const char *const flags[] = {"visualImpairment", "adaptToAge"};
    for (size_t i = 0; i < 2; i++) {
        if (!json_object_object_get_ex(body, flags[i], &v))
            continue;
        if (v != NULL && !json_object_is_type(v, json_type_boolean)) {
            *rc = users_invalid(st, req, flags[i], "must be true or false");
            goto fail;
        }
        json_object_object_add(patch, flags[i], json_object_get(v));
    }
    return patch;

oom:
    *rc = LX_FAIL;
fail:
    json_object_put(patch);
    free(*display_name);
    *display_name = NULL;
    return NULL;
}

/* storage_merge_fn: applies the patch to the stored profile (on the pool
 * thread, inside the row's transaction). */
static int users_merge(void *arg, const char *old_profile_json, const char *old_display_name,
                       char **new_profile_json, char **new_display_name, char *err, size_t errlen)
{
    users_put *u = arg;
    json_object *prof = NULL, *patch = NULL, *prefs;
    const char *text;
    int rc = LX_ENOMEM;

    (void)old_display_name;
    *new_profile_json = NULL;
    *new_display_name = NULL;
    if (old_profile_json != NULL && old_profile_json[0] != '\0')
        prof = json_tokener_parse(old_profile_json);
    if (prof == NULL || !json_object_is_type(prof, json_type_object)) {
        json_object_put(prof); /* a damaged profile starts again from the defaults */
        prof = json_object_new_object();
    }
    patch = json_tokener_parse(u->patch);
    if (prof == NULL || patch == NULL)
        goto out;

    json_object_object_foreach(patch, key, val)
    {
        if (strcmp(key, "preferences") == 0) {
            if (!json_object_object_get_ex(prof, "preferences", &prefs) ||
                !json_object_is_type(prefs, json_type_object)) {
                prefs = json_object_new_object();
                if (prefs == NULL)
                    goto out;
                json_object_object_add(prof, "preferences", prefs);
            }
            json_object_object_foreach(val, pkey, pval)
            {
                if (pval == NULL)
                    json_object_object_del(prefs, pkey);
                else
                    json_object_object_add(prefs, pkey, json_object_get(pval));
            }
        } else if (val == NULL) {
            json_object_object_del(prof, key);
        } else {
            json_object_object_add(prof, key, json_object_get(val));
        }
    }
    text = json_object_to_json_string_ext(prof, JSON_C_TO_STRING_PLAIN);
    if (text == NULL || (*new_profile_json = strdup(text)) == NULL)
        goto out;
    if (u->display_name != NULL && (*new_display_name = strdup(u->display_name)) == NULL) {
        free(*new_profile_json);
        *new_profile_json = NULL;
        goto out;
    }
    rc = LX_OK;
out:
    if (rc != LX_OK)
        snprintf(err, errlen, "out of memory merging the profile");
    json_object_put(prof);
    json_object_put(patch);
    return rc;
}

static void users_put_free(void *arg)
{
    users_put *u = arg;

    free(u->uid);
    free(u->email);
    free(u->patch);
    free(u->display_name);
    free(u);
}

static int users_put_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    users_put *u = arg;
    char now[STORAGE_TS_LEN + 8];

    (void)st;
    storage_now_iso(now, sizeof(now));
    return storage_user_update(c, u->uid, u->email, now, users_merge, u, NULL, err, errlen);
}

/* 200 {"status":"success","message":"Profile updated"}; after a new
 * display name also displayNameSynced (whether the sign-in account has it
 * too) and, when it has not, a warning saying why. Frees u. */
static void users_put_reply(users_put *u, int is_synced, const char *warning)
{
    storage_state *st = u->st;
    lx_req *req = u->req;
    int has_name = u->display_name != NULL;
    json_object *o = json_object_new_object();

    users_put_free(u);
    if (o == NULL) {
        st->host->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    json_object_object_add(o, "status", json_object_new_string("success"));
    json_object_object_add(o, "message", json_object_new_string("Profile updated"));
    if (has_name) {
        json_object_object_add(o, "displayNameSynced", json_object_new_boolean(is_synced));
        if (!is_synced)
            json_object_object_add(o, "warning", json_object_new_string(warning));
    }
    storage_reply_obj(st, req, 200, o);
}

/* The sign-in account's display name was set (or not). */
static void users_name_done(void *arg, int status, const char *message)
{
    users_put *u = arg;
    char warning[256];

    if (status == LX_OK) {
        users_put_reply(u, 1, NULL);
        return;
    }
    u->st->host->log(LX_LOG_WARN, STORAGE_SRC, u->req,
                     "profile: the sign-in account's display name was not changed: %s",
                     message != NULL ? message : "(no message)");
    snprintf(warning, sizeof(warning),
             "The name was saved in your profile, but your sign-in account still has the old "
             "name: %s.",
             message != NULL && message[0] != '\0' ? message : "the identity service failed");
    users_put_reply(u, 0, warning);
}

static void users_put_done(storage_state *st, void *arg, int rc, const char *err)
{
    users_put *u = arg;
    lx_req *req = u->req;
    const lx_accounts_v1 *ac;
    void *ac_state = NULL;

    if (rc != LX_OK) {
        users_put_free(u);
        storage_reply_store_error(st, req, rc, err, "user not found");
        return;
    }
    if (u->display_name == NULL) {
        users_put_reply(u, 1, NULL);
        return;
    }
    /* The frontend shows the sign-in account's name (the original changed
     * both): the identity provider gets the new name too. */
    ac = st->host->svc_lookup(LX_ACCOUNTS_V1, &ac_state);
    if (ac == NULL || ac->struct_size < sizeof(lx_accounts_v1) || !ac->is_available(ac_state)) {
        users_put_reply(u, 0,
                        "The name was saved in your profile, but lexiaid cannot change your "
                        "sign-in account's name: account management is not configured.");
        return;
    }
    rc = ac->set_display_name(ac_state, st->host->req_worker(req), u->uid, u->display_name,
                              users_name_done, u, NULL);
    if (rc != LX_OK)
        users_name_done(u, LX_EIO, "the identity service call could not start");
}

/* PUT /api/users/profile {displayName?, preferences?, dateOfBirth?,
 * visualImpairment?, schoolContext?, adaptToAge?}: each field given is
 * validated (400 INVALID_PROFILE naming it, nothing written), then merged
 * into the stored profile: preferences key by key, absent fields
 * untouched, null puts a field back to its default. Unknown fields and
 * preferences are ignored. A new displayName is then set on the sign-in
 * account too (accounts.v1), which the frontend shows: the reply adds
 * displayNameSynced, and a warning saying why when it is false (the
 * profile is saved either way). */
lx_rc storage_h_profile_put(lx_req *req, void *state)
{
    storage_state *st = state;
    const lx_principal *p = storage_require_user(st, req);
    json_object *body, *patch;
    users_put *u;
    const char *text;
    char *display_name = NULL;
    lx_rc rc;

    if (p == NULL)
        return LX_DONE;
    body = storage_body_json(st, req);
    if (body == NULL)
        return LX_DONE;
    patch = users_patch_of(st, req, body, &display_name, &rc);
    if (patch == NULL)
        return rc;
    u = calloc(1, sizeof(*u));
    text = json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN);
    if (u == NULL || text == NULL || (u->patch = strdup(text)) == NULL ||
        (u->uid = strdup(p->uid)) == NULL ||
        (p->email != NULL && (u->email = strdup(p->email)) == NULL))
        goto oom;
    json_object_put(patch);
    patch = NULL;
    u->display_name = display_name;
    display_name = NULL;
    u->req = req;
    u->st = st;
    return storage_run_or_reply(st, req, users_put_fn, users_put_done, u, users_put_free);
oom:
    json_object_put(patch);
    free(display_name);
    if (u != NULL)
        users_put_free(u);
    return LX_FAIL;
}

/* ------------------------------------------------------------------------ */
/* POST /api/users/init                                                     */

typedef struct users_init {
    lx_req *req;
    char *uid, *email, *name;
    int is_created;
} users_init;

static void users_init_free(void *arg)
{
    users_init *j = arg;

    free(j->uid);
    free(j->email);
    free(j->name);
    free(j);
}

static int users_init_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    users_init *j = arg;
    char now[STORAGE_TS_LEN + 8];

    (void)st;
    storage_now_iso(now, sizeof(now));
    return storage_user_init(c, j->uid, j->email, j->name, NULL, now, &j->is_created, err, errlen);
}

static void users_init_done(storage_state *st, void *arg, int rc, const char *err)
{
    users_init *j = arg;
    lx_req *req = j->req;
    int is_created = j->is_created;
    json_object *o;

    users_init_free(j);
    if (rc != LX_OK) {
        storage_reply_store_error(st, req, rc, err, "user not found");
        return;
    }
    o = json_object_new_object();
    if (o == NULL) {
        st->host->reply_error(req, 500, "INTERNAL", "out of memory");
        return;
    }
    json_object_object_add(o, "status", json_object_new_string("success"));
    json_object_object_add(o, "message",
                           json_object_new_string(is_created ? "User profile created"
                                                             : "User profile already exists"));
    json_object_object_add(o, "created", json_object_new_boolean(is_created));
    storage_reply_obj(st, req, 200, o);
}

/* POST /api/users/init: {status:"success", message, created}; a token
 * without an email is 400 EMAIL_REQUIRED. An existing row gets the
 * token's email and a new last_login. */
lx_rc storage_h_user_init(lx_req *req, void *state)
{
    storage_state *st = state;
    const lx_principal *p = storage_require_email(st, req);
    users_init *j;

    if (p == NULL)
        return LX_DONE;
    j = calloc(1, sizeof(*j));
    if (j == NULL || (j->uid = strdup(p->uid)) == NULL || (j->email = strdup(p->email)) == NULL ||
        (p->name != NULL && (j->name = strdup(p->name)) == NULL))
        goto oom;
    j->req = req;
    return storage_run_or_reply(st, req, users_init_fn, users_init_done, j, users_init_free);
oom:
    if (j != NULL)
        users_init_free(j);
    return LX_FAIL;
}

/* ------------------------------------------------------------------------ */
/* GET /api/users/profile                                                   */

typedef struct users_get {
    storage_user_job uj; /* first: storage_run_user_job */
    int has_row;
    storage_user u;
    storage_progress prog;
} users_get;

static void users_get_free(void *arg)
{
    users_get *j = arg;

    storage_user_clear(&j->u);
    storage_progress_clear(&j->prog);
    free(j->uj.uid);
    free(j);
}

static int users_get_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    users_get *j = arg;
    int rc;

    (void)st;
    rc = storage_user_get(c, j->uj.uid, &j->u, err, errlen);
    if (rc == LX_ENOENT) {
        j->has_row = 0;
    } else if (rc != LX_OK) {
        return rc;
    } else {
        j->has_row = 1;
    }
    err[0] = '\0';
    return storage_progress_get(c, j->uj.uid, &j->prog, err, errlen);
}

json_object *storage_profile_data(const char *uid, const storage_user *u,
                                  const storage_progress *prog, const lx_principal *p)
{
    json_object *d = json_object_new_object(), *prof = NULL, *stored = NULL, *g, *v;
    storage_progress_sum sum;
    const char *name = NULL, *email = NULL;
    char today[16];

    if (d == NULL)
        return NULL;
    if (u != NULL && u->profile_json != NULL) {
        prof = json_tokener_parse(u->profile_json);
        if (prof != NULL && !json_object_is_type(prof, json_type_object)) {
            json_object_put(prof);
            prof = NULL;
        }
    }
    if (prof != NULL && json_object_object_get_ex(prof, "preferences", &stored) &&
        !json_object_is_type(stored, json_type_object))
        stored = NULL;

    if (u != NULL && u->display_name != NULL && u->display_name[0] != '\0')
        name = u->display_name;
    else if (p != NULL && p->name != NULL)
        name = p->name;
    if (u != NULL && u->email != NULL && u->email[0] != '\0')
        email = u->email;
    else if (p != NULL && p->email != NULL)
        email = p->email;

    json_object_object_add(d, "uid", json_object_new_string(uid));
    json_object_object_add(d, "email", json_object_new_string(email != NULL ? email : ""));
    json_object_object_add(d, "emailVerified",
                           json_object_new_boolean(p != NULL && p->email_verified));
    json_object_object_add(d, "displayName", json_object_new_string(name != NULL ? name : ""));
    json_object_object_add(d, "createdAt",
                           u != NULL ? json_object_new_string(u->created_at) : NULL);
    json_object_object_add(
        d, "lastLogin",
        u != NULL && u->last_login[0] != '\0' ? json_object_new_string(u->last_login) : NULL);
    json_object_object_add(d, "preferences", users_prefs_json(stored));

    storage_today(today, sizeof(today));
    storage_progress_summarize(prog, today, &sum);
    g = json_object_new_object();
    if (g != NULL) {
        json_object_object_add(g, "points", json_object_new_int64(sum.points));
        json_object_object_add(g, "streak", json_object_new_int64(sum.streak));
        json_object_object_add(g, "level", json_object_new_int64(sum.level));
        json_object_object_add(g, "badges", json_object_new_array());
    }
    json_object_object_add(d, "gamification", g);

    /* Set by the user only: absent until then (the frontend asks for the
     * profile setup while dateOfBirth or schoolContext is missing). */
    if (prof != NULL && json_object_object_get_ex(prof, "dateOfBirth", &v) &&
        json_object_is_type(v, json_type_string))
        json_object_object_add(d, "dateOfBirth", json_object_get(v));
    json_object_object_add(
        d, "visualImpairment",
        json_object_new_boolean(prof != NULL &&
                                json_object_object_get_ex(prof, "visualImpairment", &v) &&
                                json_object_get_boolean(v)));
    if (prof != NULL && json_object_object_get_ex(prof, "schoolContext", &v) &&
        json_object_is_type(v, json_type_string))
        json_object_object_add(d, "schoolContext", json_object_get(v));
    json_object_object_add(
        d, "adaptToAge",
        json_object_new_boolean(prof != NULL && json_object_object_get_ex(prof, "adaptToAge", &v) &&
                                json_object_get_boolean(v)));
    json_object_put(prof);
    return d;
}

static void users_get_done(storage_state *st, void *arg, int rc, const char *err)
{
    users_get *j = arg;
    lx_req *req = j->uj.req;
    /* The principal stays valid until the request ends. */
    json_object *d = rc == LX_OK ? storage_profile_data(j->uj.uid, j->has_row ? &j->u : NULL,
                                                        &j->prog, storage_principal(st, req))
                                 : NULL;

    users_get_free(j);
    storage_reply_data(st, req, rc, err, "user not found", d);
}

/* GET /api/users/profile: {status:"success", data:{uid, email,
 * emailVerified, displayName, createdAt, lastLogin, preferences,
 * gamification:{points, streak, level, badges}, dateOfBirth?,
 * visualImpairment, schoolContext?, adaptToAge}}. Never writes. */
lx_rc storage_h_profile_get(lx_req *req, void *state)
{
    return storage_run_user_job(state, req, sizeof(users_get), users_get_fn, users_get_done,
                                users_get_free);
}
