/*
 * GET /api/progress: the signed-in user's real numbers (documents, uploads,
 * chats, quizzes and their scores, points, a level, a streak of active
 * days) from the activity rows (store.h, storage_progress_get). Uploads are
 * recorded by documents.c; chats, quizzes and answers by the tutoring
 * plugin through storage.v1.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "storage.h"

#define PROGRESS_POINTS_PER_LEVEL 100

void storage_today(char *buf, size_t buflen)
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL || strftime(buf, buflen, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, buflen, "1970-01-01");
}

/* Days since 1970-01-01 of a "YYYY-MM-DD" day (proleptic Gregorian), or
 * INT64_MIN when it is not one. */
static int64_t progress_day_number(const char *s)
{
    int y, m, d;
    char tail;

    if (s == NULL || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
        m < 1 || m > 12 || d < 1 || d > 31)
        return INT64_MIN;
    /* Count years from March so that the leap day ends a year. */
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = m > 2 ? m - 3 : m + 9;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void storage_progress_summarize(const storage_progress *p, const char *today,
                                storage_progress_sum *out)
{
    int64_t t = progress_day_number(today), prev = INT64_MIN, run = 0;

    memset(out, 0, sizeof(*out));
    out->points = p->points > 0 ? p->points : 0;
    out->level = 1 + out->points / PROGRESS_POINTS_PER_LEVEL;
    out->next_level_points = out->level * PROGRESS_POINTS_PER_LEVEL;

    /* days are distinct and newest first: a run goes on while each day is
     * the one before the previous. */
    for (size_t i = 0; i < p->n_days; i++) {
        int64_t d = progress_day_number(p->days[i]);
        if (d == INT64_MIN)
            continue;
        run = (prev != INT64_MIN && d == prev - 1) ? run + 1 : 1;
        prev = d;
        if (run > out->longest)
            out->longest = run;
    }
    /* The current streak: the run that contains the newest day, when that
     * day is today or yesterday. */
    if (p->n_days > 0 && t != INT64_MIN) {
        int64_t first = progress_day_number(p->days[0]);
        if (first != INT64_MIN && (first == t || first == t - 1)) {
            int64_t n = 1, last = first;
            for (size_t i = 1; i < p->n_days; i++) {
                int64_t d = progress_day_number(p->days[i]);
                if (d != last - 1)
                    break;
                n++;
                last = d;
            }
            out->streak = n;
        }
    }
}

typedef struct progress_job {
    storage_user_job u; /* first: storage_run_user_job */
    storage_progress p;
} progress_job;

static void progress_free(void *arg)
{
    progress_job *j = arg;

    storage_progress_clear(&j->p);
    free(j->u.uid);
    free(j);
}

static int progress_fn(storage_state *st, storage_conn *c, void *arg, char *err, size_t errlen)
{
    progress_job *j = arg;

    (void)st;
    return storage_progress_get(c, j->u.uid, &j->p, err, errlen);
}

static const storage_kind_count *progress_kind(const storage_progress *p, const char *kind)
{
    for (size_t i = 0; i < p->n_kinds; i++)
        if (p->kinds[i].kind != NULL && strcmp(p->kinds[i].kind, kind) == 0)
            return &p->kinds[i];
    return NULL;
}

static int64_t progress_count(const storage_progress *p, const char *kind)
{
    const storage_kind_count *k = progress_kind(p, kind);
    return k != NULL ? k->count : 0;
}

/* A percentage with one decimal. */
static double progress_pct(double ratio)
{
    if (!isfinite(ratio) || ratio <= 0)
        return 0;
    if (ratio > 1)
        ratio = 1;
    return round(ratio * 1000.0) / 10.0;
}

/* The answer's "data" object, or NULL when out of memory. */
static json_object *progress_json(const storage_progress *p)
{
    json_object *v[] = {json_object_new_object(), json_object_new_object(),
                        json_object_new_object()};
    json_object *data = v[0], *quizzes = v[1], *streak = v[2];
    const storage_kind_count *q = progress_kind(p, "quiz");
    storage_progress_sum sum;
    char today[16];

    if (!storage_json_all(v, sizeof(v) / sizeof(v[0])))
        return NULL;
    storage_today(today, sizeof(today));
    storage_progress_summarize(p, today, &sum);

    json_object_object_add(data, "documents", json_object_new_int64(p->documents));
    json_object_object_add(data, "uploads", json_object_new_int64(progress_count(p, "upload")));
    json_object_object_add(data, "chats", json_object_new_int64(progress_count(p, "chat")));
    json_object_object_add(quizzes, "taken", json_object_new_int64(q != NULL ? q->count : 0));
    json_object_object_add(quizzes, "correct",
                           json_object_new_int64(q != NULL ? (int64_t)llround(q->score) : 0));
    json_object_object_add(quizzes, "questions",
                           json_object_new_int64(q != NULL ? (int64_t)llround(q->max_score) : 0));
    json_object_object_add(quizzes, "average_score",
                           json_object_new_double(q != NULL && q->max_score > 0
                                                      ? progress_pct(q->score / q->max_score)
                                                      : 0));
    json_object_object_add(quizzes, "best_score",
                           json_object_new_double(q != NULL ? progress_pct(q->best) : 0));
    json_object_object_add(data, "quizzes", quizzes);
    json_object_object_add(data, "answers", json_object_new_int64(progress_count(p, "answer")));
    json_object_object_add(data, "points", json_object_new_int64(sum.points));
    json_object_object_add(data, "level", json_object_new_int64(sum.level));
    json_object_object_add(data, "next_level_points", json_object_new_int64(sum.next_level_points));
    json_object_object_add(streak, "current", json_object_new_int64(sum.streak));
    json_object_object_add(streak, "longest", json_object_new_int64(sum.longest));
    json_object_object_add(data, "streak", streak);
    json_object_object_add(data, "active_days", json_object_new_int64((int64_t)p->n_days));
    json_object_object_add(data, "last_active",
                           p->n_days > 0 ? json_object_new_string(p->days[0]) : NULL);
    return data;
}

static void progress_done(storage_state *st, void *arg, int rc, const char *err)
{
    progress_job *j = arg;
    lx_req *req = j->u.req;
    json_object *data = rc == LX_OK ? progress_json(&j->p) : NULL;

    progress_free(j);
    storage_reply_data(st, req, rc, err, "no progress for this user", data);
}

/* GET /api/progress: {status:"success", data:{documents, uploads, chats,
 * quizzes:{taken, correct, questions, average_score, best_score}, answers,
 * points, level, next_level_points, streak:{current, longest},
 * active_days, last_active}}. */
lx_rc storage_h_progress(lx_req *req, void *state)
{
    return storage_run_user_job(state, req, sizeof(progress_job), progress_fn, progress_done,
                                progress_free);
}
