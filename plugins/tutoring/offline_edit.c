/*
 * The offline tutor's edit commands (tutor_offline_edit, offline.h): what a
 * student says to change a refined answer, understood without a model.
 *
 * A command is cleaned (polite words, trailing punctuation), then read by
 * its verb: remove, replace, add (before/after/at), move, capitalise,
 * split, join. Its arguments are words of the text (quoted or not, with or
 * without "the word ...") or sentences ("the second sentence", "sentence
 * 3", "the last sentence", "the sentence about taxes", "the sentence with
 * 'tea'"). An unquoted argument ends at the first separator (" with ",
 * " after ", ...) after which the rest of the command makes sense, so
 * "add in 1773 after Boston Tea Party" needs no quotes. Edits that need a
 * model (rephrase, rewrite, simplify, ...) are told apart from commands
 * that are not understood. The arguments are read by offline_edit_args.c,
 * the text changed by offline_edit_text.c (offline_edit.h). Pure: no I/O,
 * thread-safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline_edit.h"

#define ED_MAX_COMMAND 1000 /* bytes of a command worth reading */

static const char ed_examples[] =
    "\"Change 'upset' to 'angry'\", \"Remove the word 'very'\", \"Add 'in 1773' after "
    "'Boston Tea Party'\", \"Move the sentence about taxes to the end\", \"Capitalise "
    "'boston'\", \"Split the second sentence after 'rain'\", \"Join the first two sentences\"";

static int do_place(tutor_ed_ctx *c, const tutor_ed_arg *x, tutor_ed_place *pl, char **out)
{
    long k;
    size_t at;

    switch (pl->kind) {
    case PL_END:
    case PL_DOWN:
        return tutor_ed_sentence_insert(c, c->n, x, out);
    case PL_START:
    case PL_UP:
        return tutor_ed_sentence_insert(c, 0, x, out);
    case PL_AFTER_S:
    case PL_BEFORE_S:
        if ((k = tutor_ed_resolve(c, &pl->ref)) < 0)
            return LX_EINVAL;
        return tutor_ed_sentence_insert(c, (size_t)k + (pl->kind == PL_AFTER_S), x, out);
    case PL_END_OF_S:
        if ((k = tutor_ed_resolve(c, &pl->ref)) < 0)
            return LX_EINVAL;
        return tutor_ed_insert(c, tutor_ed_sentence_body(c, (size_t)k), x, 0, out);
    case PL_START_OF_S:
        if ((k = tutor_ed_resolve(c, &pl->ref)) < 0)
            return LX_EINVAL;
        return tutor_ed_insert(c, c->s[k].a, x, 1, out);
    case PL_AFTER_TEXT:
    case PL_BEFORE_TEXT:
        at = tutor_ed_find(c, &pl->y);
        if (at == (size_t)-1) {
            tutor_ed_err(c, "I could not find \"%.*s\" in your answer.", pl->y.p, pl->y.n);
            return LX_EINVAL;
        }
        if (pl->kind == PL_AFTER_TEXT)
            return tutor_ed_insert(c, at + pl->y.n, x, 0, out);
        return tutor_ed_insert(c, at, x, 1, out);
    }
    return LX_EINVAL;
}

/* add / insert / put / append / prepend X [place] */
static int do_add(tutor_ed_ctx *c, const char *rest, int where, char **out)
{
    tutor_ed_place pl = {.kind = where == 's' ? PL_START : PL_END};
    tutor_ed_arg x;

    if (where != 0) {
        if (!tutor_ed_arg_take(c, &rest, NULL, NULL, NULL, &x))
            return TUTOR_ED_NOPARSE;
        return do_place(c, &x, &pl, out);
    }
    if (tutor_ed_arg_take(c, &rest, tutor_ed_place_stops, tutor_ed_place_parse, &pl, &x))
        return do_place(c, &x, &pl, out);
    pl.kind = PL_END;
    if (!tutor_ed_arg_take(c, &rest, NULL, NULL, NULL, &x))
        return TUTOR_ED_NOPARSE;
    return do_place(c, &x, &pl, out);
}

/* remove / delete X [from SREF] | remove SREF */
static int do_remove(tutor_ed_ctx *c, const char *rest, char **out)
{
    tutor_ed_sref r;
    tutor_ed_scope sc = {0};
    tutor_ed_arg x;
    size_t lo, hi;
    const char *q = rest;
    long k;

    if (tutor_ed_sref_parse(c, &q, NULL, NULL, &r)) {
        if ((k = tutor_ed_resolve(c, &r)) < 0)
            return LX_EINVAL;
        return tutor_ed_sentence_delete(c, (size_t)k, out);
    }
    if (!tutor_ed_arg_take(c, &rest, tutor_ed_scope_stops, tutor_ed_scope_parse, &sc, &x))
        return TUTOR_ED_NOPARSE;
    if (!tutor_ed_scope_range(c, &sc, &lo, &hi))
        return LX_EINVAL;
    for (size_t i = 0; i < c->n; i++)
        if (c->s[i].a >= lo && c->s[i].b <= hi && tutor_ed_is_whole_sentence(c, i, &x))
            return tutor_ed_sentence_delete(c, i, out);
    return tutor_ed_replace(c, &x, NULL, 0, lo, hi, out);
}

/* replace X with Y: the part after X. */
typedef struct ed_repl {
    const char *const *seps; /* " with ", " by " ... (each also a stop) */
    tutor_ed_arg y;
    tutor_ed_scope sc;
} ed_repl;

static int parse_repl_tail(tutor_ed_ctx *c, const char *tail, void *st)
{
    ed_repl *rp = st;

    for (size_t i = 0; rp->seps[i] != NULL; i++) {
        const char *q = tail;
        if (tutor_ed_kw_stop(&q, rp->seps[i]))
            return tutor_ed_arg_take(c, &q, tutor_ed_scope_stops, tutor_ed_scope_parse, &rp->sc,
                                     &rp->y);
    }
    return 0;
}

static int do_replace_args(tutor_ed_ctx *c, const tutor_ed_arg *x, ed_repl *rp,
                           const tutor_ed_sref *ref, char **out)
{
    size_t lo, hi;
    long k;

    if (ref != NULL) {
        size_t m;
        tutor_ed_piece *v;
        int rc;
        if ((k = tutor_ed_resolve(c, ref)) < 0)
            return LX_EINVAL;
        v = tutor_ed_pieces_new(c, &m);
        if (v == NULL)
            return LX_ENOMEM;
        v[k] = tutor_ed_new_piece(c, rp->y.p, rp->y.n);
        rc = v[k].p == NULL ? LX_ENOMEM : tutor_ed_emit(c, v, m, out);
        free(v);
        return rc;
    }
    if (!tutor_ed_scope_range(c, &rp->sc, &lo, &hi))
        return LX_EINVAL;
    return tutor_ed_replace(c, x, rp->y.p, rp->y.n, lo, hi, out);
}

/* replace X with Y, change X to Y, ...; with is_reversed, Y comes first
 * ("use Y instead of X", "substitute Y for X"). X may be a sentence
 * ("replace the second sentence with ..."): when it is not a phrase of the
 * text, and (quote_sentence) only with a quoted new sentence. */
static int do_replace(tutor_ed_ctx *c, const char *rest, const char *const *seps, int is_reversed,
                      int quote_sentence, char **out)
{
    ed_repl rp = {.seps = seps}, rs = {.seps = seps};
    tutor_ed_sref ref;
    tutor_ed_arg x;
    const char *q = rest;
    int has_text;

    if (is_reversed) {
        /* The argument read first is the new text, rp.y the old. */
        if (!tutor_ed_arg_take(c, &q, seps, parse_repl_tail, &rp, &x))
            return TUTOR_ED_NOPARSE;
        tutor_ed_arg old = rp.y;
        rp.y = x;
        return do_replace_args(c, &old, &rp, NULL, out);
    }
    has_text = tutor_ed_arg_take(c, &q, seps, parse_repl_tail, &rp, &x);
    q = rest;
    if (tutor_ed_sref_parse(c, &q, parse_repl_tail, &rs, &ref) &&
        (!has_text || tutor_ed_find(c, &x) == (size_t)-1)) {
        if (quote_sentence && !rs.y.is_quoted) {
            /* "Change the second sentence to sound better": a rewrite. */
            c->needs_model = 1;
            return TUTOR_ED_NOPARSE;
        }
        return do_replace_args(c, NULL, &rs, &ref, out);
    }
    if (!has_text)
        return TUTOR_ED_NOPARSE;
    return do_replace_args(c, &x, &rp, NULL, out);
}

/* move SREF|X place */
static int do_move(tutor_ed_ctx *c, const char *rest, char **out)
{
    tutor_ed_place pl = {.allow_updown = 1};
    tutor_ed_sref r;
    tutor_ed_arg x;
    const char *q = rest;
    long k, j;
    size_t m, at;

    if (!tutor_ed_sref_parse(c, &q, tutor_ed_place_parse, &pl, &r)) {
        q = rest;
        if (!tutor_ed_arg_take(c, &q, tutor_ed_place_stops, tutor_ed_place_parse, &pl, &x))
            return TUTOR_ED_NOPARSE;
        at = tutor_ed_find(c, &x);
        if (at == (size_t)-1) {
            tutor_ed_err(c, "I could not find \"%.*s\" in your answer.", x.p, x.n);
            return LX_EINVAL;
        }
        if (x.is_word || pl.kind == PL_AFTER_TEXT || pl.kind == PL_BEFORE_TEXT) {
            /* A word or phrase moves: out of its place, then into the new one. */
            char *mid = NULL;
            tutor_ed_ctx c2 = {0};
            int rc = tutor_ed_replace(c, &x, NULL, 0, at, at + x.n, &mid);
            if (rc != LX_OK)
                return rc;
            if (pl.kind == PL_END || pl.kind == PL_START || pl.kind == PL_UP ||
                pl.kind == PL_DOWN) {
                /* To the end (start) of its own sentence. */
                pl.ref.kind = SR_INDEX;
                pl.ref.index = (long)tutor_ed_sentence_of(c, at);
                pl.kind = pl.kind == PL_END || pl.kind == PL_DOWN ? PL_END_OF_S : PL_START_OF_S;
            }
            c2.t = mid;
            c2.tl = strlen(mid);
            c2.err = c->err;
            c2.errlen = c->errlen;
            rc = tutor_sentence_spans(c2.t, c2.tl, &c2.s, &c2.n);
            if (rc == LX_OK)
                rc = do_place(&c2, &x, &pl, out);
            free(c2.s);
            for (int i = 0; i < c2.n_owned; i++)
                free(c2.owned[i]);
            free(mid);
            return rc;
        }
        r.kind = SR_INDEX;
        r.index = (long)tutor_ed_sentence_of(c, at);
    }
    if ((k = tutor_ed_resolve(c, &r)) < 0)
        return LX_EINVAL;
    switch (pl.kind) {
    case PL_END:
        j = (long)c->n;
        break;
    case PL_START:
        j = 0;
        break;
    case PL_UP:
        j = k > 0 ? k - 1 : 0;
        break;
    case PL_DOWN:
        j = k + 2 <= (long)c->n ? k + 2 : (long)c->n;
        break;
    case PL_AFTER_S:
    case PL_BEFORE_S:
    case PL_END_OF_S:
    case PL_START_OF_S:
        if ((j = tutor_ed_resolve(c, &pl.ref)) < 0)
            return LX_EINVAL;
        j += pl.kind == PL_AFTER_S || pl.kind == PL_END_OF_S;
        break;
    default:
        at = tutor_ed_find(c, &pl.y);
        if (at == (size_t)-1) {
            tutor_ed_err(c, "I could not find \"%.*s\" in your answer.", pl.y.p, pl.y.n);
            return LX_EINVAL;
        }
        j = (long)tutor_ed_sentence_of(c, at) + (pl.kind == PL_AFTER_TEXT);
        break;
    }
    tutor_ed_piece *v = tutor_ed_pieces_new(c, &m);
    tutor_ed_piece pc;
    int rc;
    if (v == NULL)
        return LX_ENOMEM;
    pc = v[k];
    tutor_ed_pieces_remove(v, &m, (size_t)k);
    if (j > k)
        j--;
    tutor_ed_pieces_insert(v, &m, (size_t)j, pc);
    rc = tutor_ed_emit(c, v, m, out);
    free(v);
    return rc;
}

/* capitalise / upper-case / lower-case ... */
static int do_case(tutor_ed_ctx *c, const char *rest, int mode, char **out)
{
    static const char *const every[] = {"every sentence",
                                        "each sentence",
                                        "all sentences",
                                        "all the sentences",
                                        "the sentences",
                                        "sentences",
                                        NULL};
    static const char *const part[] = {"the first letter of",  "the first word of",
                                       "the start of",         "the beginning of",
                                       "the first letters of", NULL};
    tutor_ed_scope sc = {0};
    tutor_ed_sref r;
    tutor_ed_arg x;
    size_t lo, hi;
    const char *q = rest;
    long k;

    tutor_ed_kw_any(&q, part);
    if (mode == 'c' && tutor_ed_kw_any(&q, every) >= 0 && tutor_ed_at_end(q)) {
        tutor_buf b = {0};
        tutor_buf_add(&b, c->t, c->tl);
        for (size_t i = 0; i < c->n; i++)
            tutor_ed_cap_from(&b, c->s[i].a);
        *out = tutor_buf_take(&b);
        return *out != NULL ? LX_OK : LX_ENOMEM;
    }
    rest = q;
    if (mode == 'c' && tutor_ed_sref_parse(c, &q, NULL, NULL, &r)) {
        tutor_buf b = {0};
        if ((k = tutor_ed_resolve(c, &r)) < 0)
            return LX_EINVAL;
        tutor_buf_add(&b, c->t, c->tl);
        tutor_ed_cap_from(&b, c->s[k].a);
        *out = tutor_buf_take(&b);
        return *out != NULL ? LX_OK : LX_ENOMEM;
    }
    if (!tutor_ed_arg_take(c, &rest, tutor_ed_scope_stops, tutor_ed_scope_parse, &sc, &x))
        return TUTOR_ED_NOPARSE;
    if (!tutor_ed_scope_range(c, &sc, &lo, &hi))
        return LX_EINVAL;
    return tutor_ed_case(c, &x, mode, lo, hi, out);
}

/* "make X uppercase", "make X a capital", ... */
typedef struct ed_make {
    int mode;
} ed_make;

static int parse_make_tail(tutor_ed_ctx *c, const char *tail, void *st)
{
    static const char *const upper[] = {
        "uppercase", "upper case",      "upper-case",  "all caps",      "all capitals",
        "capitals",  "capital letters", "in capitals", "into capitals", NULL};
    static const char *const cap[] = {"capitalised", "capitalized",          "capital",
                                      "a capital",   "start with a capital", "begin with a capital",
                                      NULL};
    static const char *const lower[] = {"lowercase",     "lower case", "lower-case",
                                        "small letters", "small",      NULL};
    ed_make *mk = st;
    const char *q = tail;

    (void)c;
    if (tutor_ed_kw_any(&q, upper) >= 0)
        mk->mode = 'u';
    else if ((q = tail, tutor_ed_kw_any(&q, cap) >= 0))
        mk->mode = 'c';
    else if ((q = tail, tutor_ed_kw_any(&q, lower) >= 0))
        mk->mode = 'l';
    else
        return 0;
    tutor_ed_kw(&q, "letter");
    tutor_ed_kw(&q, "letters");
    return tutor_ed_at_end(q);
}

static int do_make(tutor_ed_ctx *c, const char *rest, char **out)
{
    static const char *const stops[] = {" uppercase",
                                        " upper case",
                                        " upper-case",
                                        " all caps",
                                        " all capitals",
                                        " capitals",
                                        " capital",
                                        " a capital",
                                        " in capitals",
                                        " into capitals",
                                        " capitalised",
                                        " capitalized",
                                        " start with a capital",
                                        " begin with a capital",
                                        " lowercase",
                                        " lower case",
                                        " lower-case",
                                        " small",
                                        NULL};
    ed_make mk = {0};
    tutor_ed_arg x;

    if (!tutor_ed_arg_take(c, &rest, stops, parse_make_tail, &mk, &x)) {
        c->needs_model = 1; /* "make it shorter", "make it sound better" */
        return TUTOR_ED_NOPARSE;
    }
    return tutor_ed_case(c, &x, mk.mode, 0, c->tl, out);
}

/* ---- the command --------------------------------------------------------------- */

/* The command without polite words around it and end punctuation, into
 * buf (a copy): "Could you please remove 'very'?" -> "remove 'very'". */
static void clean_command(const char *command, char *buf, size_t size)
{
    static const char *const lead[] = {"please",
                                       "can you",
                                       "could you",
                                       "would you",
                                       "will you",
                                       "can we",
                                       "could we",
                                       "i want you to",
                                       "i'd like you to",
                                       "i want to",
                                       "i'd like to",
                                       "i would like to",
                                       "i need to",
                                       "let's",
                                       "lets",
                                       "go ahead and",
                                       "you can",
                                       "try to",
                                       "now",
                                       "ok",
                                       "okay",
                                       "so",
                                       "and",
                                       "then",
                                       "also",
                                       "just",
                                       "hey",
                                       "um",
                                       "uh",
                                       NULL};
    static const char *const trail[] = {" please", " for me", " thanks", " thank you", NULL};
    size_t n = 0;
    char *s;

    for (const char *p = command; *p != '\0' && n + 1 < size; p++)
        buf[n++] = (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p;
    buf[n] = '\0';
    for (int changed = 1; changed;) {
        changed = 0;
        while (n > 0 && strchr(" .!?;,", buf[n - 1]) != NULL)
            buf[--n] = '\0';
        for (size_t i = 0; trail[i] != NULL; i++) {
            size_t k = strlen(trail[i]);
            if (n >= k && tutor_ieq(buf + n - k, k, trail[i], k)) {
                n -= k;
                buf[n] = '\0';
                changed = 1;
            }
        }
    }
    s = buf;
    for (const char *q = s; tutor_ed_kw_any(&q, lead) >= 0; s = (char *)q)
        ;
    s = (char *)tutor_ed_skip(s);
    memmove(buf, s, strlen(s) + 1);
}

/* Verbs whose edits need a language model. */
static int needs_a_model(const char *cmd)
{
    static const char *const verbs[] = {
        "rephrase",    "reword",    "rewrite",  "paraphrase", "simplify",   "shorten",
        "summarise",   "summarize", "sum up",   "expand",     "improve",    "elaborate",
        "clarify",     "polish",    "explain",  "fix",        "reorganise", "reorganize",
        "restructure", "translate", "continue", "finish",     "complete",   "proofread",
        "edit",        "tidy",      "clean up", "say",        "write more", "lengthen",
        "condense",    "tighten",   "vary",     "correct",    "use",        "change",
        "turn",        "break up",  "reduce",   NULL};
    const char *q = cmd;

    return tutor_ed_kw_any(&q, verbs) >= 0;
}

/* The edit a cleaned command asks for: LX_OK with *out, LX_EINVAL with a
 * message in c->err, TUTOR_ED_NOPARSE when no verb's words fit, LX_ENOMEM. */
static int run_command(tutor_ed_ctx *c, const char *cmd, char **out)
{
    static const char *const rm[] = {"remove", "delete",   "erase",      "drop",
                                     "cut",    "take out", "get rid of", "leave out",
                                     "omit",   "strike",   NULL};
    static const char *const with_by[] = {" with ", " by ", NULL};
    static const char *const to_into[] = {" to ", " into ", NULL};
    static const char *const for_with[] = {" for ", " with ", " and ", NULL};
    static const char *const instead[] = {" instead of ", " in place of ", NULL};
    static const char *const for_only[] = {" for ", NULL};
    static const char *const upper[] = {"uppercase", "upper-case", "upper case", NULL};
    static const char *const lower[] = {
        "lowercase",    "lower-case",   "lower case",   "uncapitalise",
        "uncapitalize", "decapitalise", "decapitalize", NULL};
    static const char *const joins[] = {"join", "combine", "merge", "connect", "link", NULL};
    const char *q = cmd;
    int rc;

    if (tutor_ed_kw_any(&q, rm) >= 0)
        return do_remove(c, q, out);
    if (tutor_ed_kw(&q, "replace"))
        return do_replace(c, q, with_by, 0, 0, out);
    if (tutor_ed_kw(&q, "change") || tutor_ed_kw(&q, "correct") || tutor_ed_kw(&q, "turn") ||
        tutor_ed_kw(&q, "switch"))
        return do_replace(c, q, to_into, 0, 1, out);
    if (tutor_ed_kw(&q, "swap") || tutor_ed_kw(&q, "exchange"))
        return do_replace(c, q, for_with, 0, 1, out);
    if (tutor_ed_kw(&q, "substitute")) {
        rc = do_replace(c, q, for_only, 1, 0, out);
        return rc != TUTOR_ED_NOPARSE ? rc : do_replace(c, q, with_by, 0, 0, out);
    }
    if (tutor_ed_kw(&q, "use") || tutor_ed_kw(&q, "say") || tutor_ed_kw(&q, "write") ||
        tutor_ed_kw(&q, "put")) {
        /* "use Y instead of X", "put Y in place of X" */
        rc = do_replace(c, q, instead, 1, 0, out);
        if (rc != TUTOR_ED_NOPARSE || tutor_ed_iprefix(cmd, "use") || tutor_ed_iprefix(cmd, "say"))
            return rc;
        if (tutor_ed_iprefix(cmd, "put")) {
            tutor_ed_place pl = {.allow_updown = 1};
            tutor_ed_sref ref;
            const char *r = q;
            if (tutor_ed_sref_parse(c, &r, tutor_ed_place_parse, &pl, &ref))
                return do_move(c, q, out); /* "put the last sentence first" */
        }
        return do_add(c, q, 0, out);
    }
    if (tutor_ed_kw(&q, "add") || tutor_ed_kw(&q, "insert") || tutor_ed_kw(&q, "type"))
        return do_add(c, q, 0, out);
    if (tutor_ed_kw(&q, "append"))
        return do_add(c, q, 'e', out);
    if (tutor_ed_kw(&q, "prepend"))
        return do_add(c, q, 's', out);
    if (tutor_ed_kw(&q, "move") || tutor_ed_kw(&q, "bring") || tutor_ed_kw(&q, "shift"))
        return do_move(c, q, out);
    if (tutor_ed_kw(&q, "capitalise") || tutor_ed_kw(&q, "capitalize"))
        return do_case(c, q, 'c', out);
    if (tutor_ed_kw_any(&q, upper) >= 0)
        return do_case(c, q, 'u', out);
    if (tutor_ed_kw_any(&q, lower) >= 0)
        return do_case(c, q, 'l', out);
    if (tutor_ed_kw(&q, "make"))
        return do_make(c, q, out);
    if (tutor_ed_kw(&q, "split") || tutor_ed_kw(&q, "break") || tutor_ed_kw(&q, "divide"))
        return tutor_ed_split(c, q, out);
    if (tutor_ed_kw_any(&q, joins) >= 0)
        return tutor_ed_join(c, q, out);
    return TUTOR_ED_NOPARSE;
}

int tutor_offline_edit(const char *text, const char *command, char **out, char *err, size_t errlen,
                       int *needs_model)
{
    char cmd[ED_MAX_COMMAND + 1];
    tutor_ed_ctx c = {0};
    int rc;

    if (out != NULL)
        *out = NULL;
    if (needs_model != NULL)
        *needs_model = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    c.err = err;
    c.errlen = errlen;
    if (text == NULL || command == NULL || out == NULL) {
        tutor_ed_err(&c, "Nothing to edit.", NULL, 0);
        return LX_EINVAL;
    }
    if (strlen(command) > ED_MAX_COMMAND) {
        tutor_ed_err(&c, "That edit is too long: say one change at a time.", NULL, 0);
        return LX_EINVAL;
    }
    clean_command(command, cmd, sizeof cmd);
    c.t = text;
    c.tl = strlen(text);
    if (tutor_sentence_spans(c.t, c.tl, &c.s, &c.n) != LX_OK)
        return LX_ENOMEM;
    rc = run_command(&c, cmd, out);
    if (rc == TUTOR_ED_NOPARSE && needs_a_model(cmd))
        c.needs_model = 1;
    if (rc != LX_OK && *out != NULL) {
        free(*out);
        *out = NULL;
    }
    if (rc == TUTOR_ED_NOPARSE && c.needs_model) {
        size_t vn = strlen(cmd);
        if (vn > 60) { /* at a word, never inside a UTF-8 sequence */
            vn = 60;
            while (vn > 0 && cmd[vn] != ' ')
                vn--;
        }
        if (err != NULL && errlen > 0)
            snprintf(err, errlen,
                     "\"%.*s\" needs a language model, and this LexiAid works without one "
                     "(offline). Ask whoever runs it to turn on Gemini (GOOGLE_API_KEY) or an "
                     "OpenAI-compatible model (OPENAI_API_KEY, or a local server such as "
                     "Ollama). Without a model you can still say, for example: %s.",
                     (int)vn, cmd, ed_examples);
        if (needs_model != NULL)
            *needs_model = 1;
        rc = LX_EINVAL;
    } else if (rc == TUTOR_ED_NOPARSE) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "I did not understand that edit. Try, for example: %s.",
                     ed_examples);
        rc = LX_EINVAL;
    } else if (rc == LX_EINVAL && err != NULL && errlen > 0 && err[0] == '\0') {
        snprintf(err, errlen, "I did not understand that edit. Try, for example: %s.", ed_examples);
    }
    free(c.s);
    for (int k = 0; k < c.n_owned; k++)
        free(c.owned[k]);
    return rc;
}
