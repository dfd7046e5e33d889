#include "config.h"

/*
 * The offline tutor (plugins/tutoring/offline.c) on real passages written
 * here: a school text on photosynthesis and one on the water cycle. Each
 * test pins down what a student would see: the sentences, the answer to a
 * question, a quiz, a cleaned dictation, an edit, a reading level.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lexiaid/plugin.h>

#include "offline.h"

static const char photosynthesis[] =
    "Photosynthesis is the process that green plants use to make their own food. "
    "Plants need sunlight, water and carbon dioxide to make food. "
    "The green pigment chlorophyll absorbs light energy in the leaves. "
    "Water enters the plant through its roots and travels up the stem to the leaves. "
    "Carbon dioxide enters the leaves through tiny pores called stomata. "
    "Inside the chloroplasts, light energy splits water molecules into hydrogen and oxygen. "
    "The oxygen is released into the air as a waste product. "
    "The hydrogen is combined with carbon dioxide to make glucose, a simple sugar. "
    "Dr. Jan Ingenhousz showed in 1779 that plants need light to produce oxygen. "
    "A single large tree can release about 100 kilograms of oxygen in a year. "
    "Plants store extra glucose as starch in their roots, stems and seeds. "
    "Animals, e.g. rabbits and deer, depend on plants for energy. "
    "About 3.5 billion years ago, tiny bacteria began to carry out photosynthesis in the oceans. "
    "Without photosynthesis, there would be very little oxygen for animals to breathe. "
    "Farmers in Kenya grow maize, which uses a faster kind of photosynthesis called C4.";

static const char water_cycle[] =
    "The water cycle moves water between the oceans, the air and the land.\n"
    "Heat from the Sun makes water evaporate from seas and lakes.\n"
    "The water vapour rises, cools and condenses into clouds.\n\n"
    "When the droplets grow heavy they fall as rain, snow or hail. "
    "Rivers carry the water back to the sea!";

static char **split(const char *text, size_t *n)
{
    char **v = NULL;

    assert_int_equal(tutor_sentences(text, strlen(text), &v, n), LX_OK);
    return v;
}

/* Whether every word of out appears in in, in order (case-insensitive). */
static int words_in_order(const char *in, const char *out)
{
    char a[4096], b[4096];
    char *sa, *sb, *wa, *wb;

    snprintf(a, sizeof a, "%s", in);
    snprintf(b, sizeof b, "%s", out);
    for (char *p = a; *p; p++)
        *p = isalnum((unsigned char)*p) || *p == '\'' ? (char)tolower((unsigned char)*p) : ' ';
    for (char *p = b; *p; p++)
        *p = isalnum((unsigned char)*p) || *p == '\'' ? (char)tolower((unsigned char)*p) : ' ';
    wa = strtok_r(a, " ", &sa);
    for (wb = strtok_r(b, " ", &sb); wb != NULL; wb = strtok_r(NULL, " ", &sb)) {
        while (wa != NULL && strcmp(wa, wb) != 0)
            wa = strtok_r(NULL, " ", &sa);
        if (wa == NULL)
            return 0;
        wa = strtok_r(NULL, " ", &sa);
    }
    return 1;
}

/* ---- sentences ---- */

static void test_sentences_keep_abbreviations_and_decimals_whole(void **state)
{
    size_t n;
    char **v = split(photosynthesis, &n);

    (void)state;
    assert_int_equal(n, 15);
    assert_string_equal(
        v[0], "Photosynthesis is the process that green plants use to make their own food.");
    assert_string_equal(
        v[8], "Dr. Jan Ingenhousz showed in 1779 that plants need light to produce oxygen.");
    assert_string_equal(v[11], "Animals, e.g. rabbits and deer, depend on plants for energy.");
    assert_string_equal(v[12], "About 3.5 billion years ago, tiny bacteria began to carry out "
                               "photosynthesis in the oceans.");
    assert_string_equal(v[14], "Farmers in Kenya grow maize, which uses a faster kind of "
                               "photosynthesis called C4.");
    tutor_strv_free(v, n);
}

static void test_sentences_split_at_marks_quotes_and_blank_lines(void **state)
{
    const char *text = "  She shouted \"Look out!\" Then it rained.  Really?! Yes...\n"
                       "it was\nwet\n\n  \n Title without a stop\n\nMr. Smith met Mrs. Jones "
                       "on St. Mary's Road. \xe2\x80\x9cStop!\xe2\x80\x9d she said.";
    size_t n;
    char **v = split(text, &n);

    (void)state;
    assert_int_equal(n, 9);
    assert_string_equal(v[0], "She shouted \"Look out!\"");
    assert_string_equal(v[1], "Then it rained.");
    assert_string_equal(v[2], "Really?!");
    assert_string_equal(v[3], "Yes...");
    assert_string_equal(v[4], "it was wet");
    assert_string_equal(v[5], "Title without a stop");
    assert_string_equal(v[6], "Mr. Smith met Mrs. Jones on St. Mary's Road.");
    /* A closing curly quote after the mark ends the sentence, as a straight one does. */
    assert_string_equal(v[7], "\xe2\x80\x9cStop!\xe2\x80\x9d");
    assert_string_equal(v[8], "she said.");
    tutor_strv_free(v, n);
}

static void test_sentences_of_blank_text_are_none(void **state)
{
    size_t n = 99;
    char **v = split(" \n\n\t ", &n);

    (void)state;
    assert_int_equal(n, 0);
    tutor_strv_free(v, n);
    v = split("", &n);
    assert_int_equal(n, 0);
    tutor_strv_free(v, n);
}

/* ---- answers ---- */

static void test_answer_holds_the_sentence_with_the_fact(void **state)
{
    const char *passages[] = {water_cycle, photosynthesis};
    char *answer = NULL;
    int found = 0;

    (void)state;
    assert_int_equal(
        tutor_offline_answer("What do plants need to make food?", passages, 2, 1, &answer, &found),
        LX_OK);
    assert_int_equal(found, 1);
    assert_string_equal(answer, "Plants need sunlight, water and carbon dioxide to make food.");
    free(answer);
}

static void test_answer_joins_best_sentences_in_passage_order(void **state)
{
    const char *passages[] = {water_cycle, photosynthesis};
    char *answer = NULL;
    int found = 0;

    (void)state;
    assert_int_equal(tutor_offline_answer("Where does rain come from? How do clouds form?",
                                          passages, 2, 2, &answer, &found),
                     LX_OK);
    assert_int_equal(found, 1);
    /* The clouds sentence comes first in the passage, the rain one later. */
    assert_string_equal(answer, "The water vapour rises, cools and condenses into clouds. "
                                "When the droplets grow heavy they fall as rain, snow or hail.");
    free(answer);
}

static void test_answer_without_shared_word_is_not_found(void **state)
{
    const char *passages[] = {water_cycle, photosynthesis};
    char *answer = (char *)"untouched";
    int found = 1;

    (void)state;
    assert_int_equal(tutor_offline_answer("Who won the football match yesterday?", passages, 2, 3,
                                          &answer, &found),
                     LX_OK);
    assert_int_equal(found, 0);
    assert_null(answer);

    found = 1;
    assert_int_equal(tutor_offline_answer("What is it?", passages, 2, 3, &answer, &found), LX_OK);
    assert_int_equal(found, 0);
    assert_null(answer);

    found = 1;
    assert_int_equal(tutor_offline_answer("plants", NULL, 0, 3, &answer, &found), LX_OK);
    assert_int_equal(found, 0);
    assert_null(answer);
}

/* ---- quizzes ---- */

static void check_mcq(const tutor_mcq *q, const char *source)
{
    const char *gap, *prefix = "Fill the gap: ";
    const char *term;
    size_t before, tl;

    assert_true(q->n_options >= 2 && q->n_options <= 4);
    assert_true(q->correct >= 0 && q->correct < q->n_options);
    term = q->options[q->correct];
    tl = strlen(term);
    assert_true(tl > 0);
    /* The explanation is a sentence of the text holding the term. */
    assert_non_null(strstr(source, q->explanation));
    assert_non_null(strstr(q->explanation, term));
    /* The question is that sentence with exactly the term blanked. */
    assert_int_equal(strncmp(q->question, prefix, strlen(prefix)), 0);
    gap = strstr(q->question, "____");
    assert_non_null(gap);
    assert_null(strstr(gap + 4, "____"));
    before = (size_t)(gap - q->question) - strlen(prefix);
    assert_int_equal(strncmp(q->question + strlen(prefix), q->explanation, before), 0);
    assert_int_equal(strncmp(q->explanation + before, term, tl), 0);
    assert_string_equal(gap + 4, q->explanation + before + tl);
    for (int k = 0; k < q->n_options; k++) {
        assert_non_null(q->options[k]);
        assert_non_null(strstr(source, q->options[k]));
        if (k != q->correct)
            assert_int_not_equal(strcasecmp(q->options[k], term), 0);
        for (int j = 0; j < k; j++)
            assert_int_not_equal(strcasecmp(q->options[k], q->options[j]), 0);
    }
}

static void test_quiz_gives_five_sound_questions_from_a_passage(void **state)
{
    tutor_mcq *v = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(tutor_offline_quiz(photosynthesis, strlen(photosynthesis), 5, 42, &v, &n),
                     LX_OK);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        check_mcq(&v[i], photosynthesis);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(v[i].explanation, v[j].explanation);
            assert_int_not_equal(strcasecmp(v[i].options[v[i].correct], v[j].options[v[j].correct]),
                                 0);
        }
    }
    tutor_mcqs_free(v, n);
}

static void test_quiz_is_deterministic_for_a_seed(void **state)
{
    tutor_mcq *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int order_changed = 0;

    (void)state;
    assert_int_equal(tutor_offline_quiz(photosynthesis, strlen(photosynthesis), 10, 7, &a, &na),
                     LX_OK);
    assert_int_equal(tutor_offline_quiz(photosynthesis, strlen(photosynthesis), 10, 7, &b, &nb),
                     LX_OK);
    assert_true(na >= 5);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        check_mcq(&a[i], photosynthesis);
        assert_string_equal(a[i].question, b[i].question);
        assert_string_equal(a[i].explanation, b[i].explanation);
        assert_int_equal(a[i].n_options, b[i].n_options);
        assert_int_equal(a[i].correct, b[i].correct);
        for (int k = 0; k < a[i].n_options; k++)
            assert_string_equal(a[i].options[k], b[i].options[k]);
    }
    tutor_mcqs_free(b, nb);
    /* Other seeds shuffle the options differently (on the same questions). */
    for (unsigned seed = 1; seed < 20 && !order_changed; seed++) {
        assert_int_equal(
            tutor_offline_quiz(photosynthesis, strlen(photosynthesis), 10, seed, &b, &nb), LX_OK);
        assert_int_equal(nb, na);
        for (size_t i = 0; i < nb; i++) {
            check_mcq(&b[i], photosynthesis);
            order_changed |= b[i].correct != a[i].correct;
        }
        tutor_mcqs_free(b, nb);
    }
    assert_true(order_changed);
    tutor_mcqs_free(a, na);
}

static void test_quiz_on_short_text_gives_fewer_questions(void **state)
{
    const char *two = "Rain falls. The warm sun shines on the wide sea and heats the water.";
    tutor_mcq *v = NULL;
    size_t n = 99;

    (void)state;
    assert_int_equal(tutor_offline_quiz(two, strlen(two), 5, 1, &v, &n), LX_OK);
    assert_true(n <= 1);
    for (size_t i = 0; i < n; i++)
        check_mcq(&v[i], two);
    tutor_mcqs_free(v, n);

    n = 99;
    assert_int_equal(tutor_offline_quiz("Hi.", 3, 5, 1, &v, &n), LX_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    assert_int_equal(tutor_offline_quiz("", 0, 5, 1, &v, &n), LX_OK);
    assert_int_equal(n, 0);
}

/* ---- picking an option ---- */

static void test_mcq_pick_understands_letters_numbers_and_text(void **state)
{
    tutor_mcq q = {0};

    (void)state;
    q.question = (char *)"Fill the gap: Plants store extra ____ as starch.";
    q.options[0] = (char *)"glucose";
    q.options[1] = (char *)"oxygen";
    q.options[2] = (char *)"starch";
    q.options[3] = (char *)"carbon dioxide";
    q.n_options = 4;
    q.correct = 0;
    assert_int_equal(tutor_mcq_pick(&q, "b"), 1);
    assert_int_equal(tutor_mcq_pick(&q, "B)"), 1);
    assert_int_equal(tutor_mcq_pick(&q, "option c"), 2);
    assert_int_equal(tutor_mcq_pick(&q, "Option C."), 2);
    assert_int_equal(tutor_mcq_pick(&q, "(d)"), 3);
    assert_int_equal(tutor_mcq_pick(&q, " a "), 0);
    assert_int_equal(tutor_mcq_pick(&q, "2"), 1);
    assert_int_equal(tutor_mcq_pick(&q, "4)"), 3);
    assert_int_equal(tutor_mcq_pick(&q, "Oxygen"), 1);
    assert_int_equal(tutor_mcq_pick(&q, "carbon dioxide."), 3);
    assert_int_equal(tutor_mcq_pick(&q, "I think it is Starch!"), 2);
    assert_int_equal(tutor_mcq_pick(&q, "The answer is C"), 2);
    assert_int_equal(tutor_mcq_pick(&q, "it's b."), 1);
    assert_int_equal(tutor_mcq_pick(&q, "banana"), -1);
    assert_int_equal(tutor_mcq_pick(&q, "carbon"), -1);
    assert_int_equal(tutor_mcq_pick(&q, "oxygen or starch"), -1);
    assert_int_equal(tutor_mcq_pick(&q, "e"), -1);
    assert_int_equal(tutor_mcq_pick(&q, "5"), -1);
    assert_int_equal(tutor_mcq_pick(&q, ""), -1);
    assert_int_equal(tutor_mcq_pick(&q, "?!"), -1);
    q.n_options = 2;
    assert_int_equal(tutor_mcq_pick(&q, "c"), -1);
    assert_int_equal(tutor_mcq_pick(&q, "starch"), -1);
}

/* ---- refining a dictation ---- */

static void test_refine_removes_fillers_and_repeats(void **state)
{
    const char *in = "um so i think i think the the water cycle is, like, really important";
    char *out = tutor_offline_refine(in);

    (void)state;
    assert_non_null(out);
    assert_string_equal(out, "So I think the water cycle is really important.");
    assert_true(words_in_order(in, out));
    free(out);
}

static void test_refine_drops_clause_fillers_and_capitalises_sentences(void **state)
{
    const char *in = "you know, it rains a lot.   uh it rains   a lot. i mean, the clouds get "
                     "heavy and erm  they fall\n that is what i mean";
    char *out = tutor_offline_refine(in);

    (void)state;
    assert_non_null(out);
    assert_string_equal(out, "It rains a lot. It rains a lot. The clouds get heavy and they fall "
                             "that is what I mean.");
    assert_true(words_in_order(in, out));
    free(out);
}

static void test_refine_keeps_ended_text_and_adds_no_word(void **state)
{
    const char *in = "Is it hot? yes it is! i'm sure";
    char *out = tutor_offline_refine(in);

    (void)state;
    assert_string_equal(out, "Is it hot? Yes it is! I'm sure.");
    assert_true(words_in_order(in, out));
    free(out);
    /* "you know" carrying meaning is no filler; "i.e." ends no sentence. */
    in = "you know the answer, i.e. the sun heats the sea ,";
    out = tutor_offline_refine(in);
    assert_string_equal(out, "You know the answer, i.e. the sun heats the sea.");
    assert_true(words_in_order(in, out));
    free(out);
    out = tutor_offline_refine("   ");
    assert_string_equal(out, "");
    free(out);
    out = tutor_offline_refine("um uh");
    assert_string_equal(out, "");
    free(out);
}

/* ---- edits ---- */

static void expect_edit(const char *text, const char *command, const char *want)
{
    char err[1024] = "", *out = NULL;
    int needs_model = -1;

    if (tutor_offline_edit(text, command, &out, err, sizeof err, &needs_model) != LX_OK)
        fail_msg("\"%s\" on \"%s\": %s", command, text, err);
    assert_int_equal(needs_model, 0);
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        fail_msg("\"%s\":\n got  \"%s\"\n want \"%s\"", command, out, want);
    free(out);
}

/* The command fails with a message containing `has` (and says whether it
 * needs a model). */
static void expect_refusal(const char *text, const char *command, int needs_model, const char *has)
{
    char err[1024] = "", *out = (char *)"x";
    int nm = -1;

    assert_int_equal(tutor_offline_edit(text, command, &out, err, sizeof err, &nm), LX_EINVAL);
    assert_null(out);
    assert_int_equal(nm, needs_model);
    if (strstr(err, has) == NULL)
        fail_msg("\"%s\": \"%s\" lacks \"%s\"", command, err, has);
}

static void test_edit_applies_every_command_form(void **state)
{
    const char *t = "The cat sat on the mat. The cat was happy.";

    (void)state;
    expect_edit(t, "replace cat with dog", "The dog sat on the mat. The dog was happy.");
    expect_edit(t, "Replace Cat With dog.", "The dog sat on the mat. The dog was happy.");
    expect_edit(t, "change \"the mat\" to 'the red rug'",
                "The cat sat on the red rug. The cat was happy.");
    expect_edit(t, "change happy to sad", "The cat sat on the mat. The cat was sad.");
    expect_edit(t, "replace the with a", "A cat sat on a mat. A cat was happy.");
    expect_edit("It was very very hot.", "delete very", "It was hot.");
    expect_edit(t, "remove 'on the mat'", "The cat sat. The cat was happy.");
    expect_edit(t, "add the end came soon at the end",
                "The cat sat on the mat. The cat was happy. The end came soon.");
    expect_edit(t, "append it slept", "The cat sat on the mat. The cat was happy. It slept.");
    expect_edit("It rained", "add \"then it stopped!\" at the end", "It rained. Then it stopped!");
    expect_edit(t, "add 'once upon a time' at the start",
                "Once upon a time. The cat sat on the mat. The cat was happy.");
    expect_edit(t, "prepend hello", "Hello. The cat sat on the mat. The cat was happy.");
    expect_edit("The cat sat at home.", "replace at with in", "The cat sat in home.");
}

/* The frontend's own examples (VoiceEditMode.tsx), and the forms a student
 * says them in: quoted or not, "the word", polite words around. */
static const char *const tea =
    "The colonists were upset about taxes. They threw tea into the harbor at the Boston Tea "
    "Party. It was very important.";

static void test_edit_understands_the_frontend_examples(void **state)
{
    (void)state;
    expect_edit(tea, "Change 'upset' to 'angry'",
                "The colonists were angry about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. It was very important.");
    expect_edit(tea, "Add 'in 1773' after 'Boston Tea Party'",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party in 1773. It was very important.");
    expect_edit(tea, "add in 1773 after Boston Tea Party",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party in 1773. It was very important.");
    const char *no_very = "The colonists were upset about taxes. They threw tea into the harbor "
                          "at the Boston Tea Party. It was important.";
    expect_edit(tea, "Remove the word 'very'", no_very);
    expect_edit(tea, "remove the word very", no_very);
    expect_edit(tea, "Could you please remove \xe2\x80\x9cvery\xe2\x80\x9d?", no_very);
    expect_edit(tea, "delete very.", no_very);
    expect_edit(tea, "Move the sentence about taxes to the end",
                "They threw tea into the harbor at the Boston Tea Party. It was very important. "
                "The colonists were upset about taxes.");
    expect_refusal(tea, "Rephrase the second sentence", 1, "needs a language model");
    expect_refusal(tea, "Rephrase the second sentence", 1, "Gemini");
    expect_refusal(tea, "Rephrase the second sentence", 1, "OpenAI");
    expect_refusal(tea, "Rephrase the second sentence", 1, "Remove the word 'very'");
}

static void test_edit_sentences_by_position_and_content(void **state)
{
    const char *t = "First one. Second one! Third one?";

    (void)state;
    expect_edit(t, "delete the second sentence", "First one. Third one?");
    expect_edit(t, "remove sentence 3", "First one. Second one!");
    expect_edit(t, "remove the last sentence", "First one. Second one!");
    expect_edit(t, "move the last sentence to the start", "Third one? First one. Second one!");
    expect_edit(t, "put the last sentence first", "Third one? First one. Second one!");
    expect_edit(t, "move the first sentence after the second sentence",
                "Second one! First one. Third one?");
    expect_edit(t, "move the first sentence down", "Second one! First one. Third one?");
    expect_edit(t, "move sentence 2 up", "Second one! First one. Third one?");
    expect_edit(t, "move the sentence with 'third' before the second sentence",
                "First one. Third one? Second one!");
    expect_edit(t, "replace the second sentence with 'A new one.'",
                "First one. A new one. Third one?");
    expect_edit(t, "add 'Between.' after the first sentence",
                "First one. Between. Second one! Third one?");
    expect_edit(tea, "remove the sentence about taxes",
                "They threw tea into the harbor at the Boston Tea Party. It was very important.");
    expect_edit(tea, "move the sentence starting with 'it' to the start",
                "It was very important. The colonists were upset about taxes. They threw tea "
                "into the harbor at the Boston Tea Party.");
    /* White space between sentences that stay neighbours is kept. */
    expect_edit("One.\n\nTwo. Three.", "move the first sentence to the end", "Two. Three. One.");
    expect_edit("One.\n\nTwo. Three.", "remove the last sentence", "One.\n\nTwo.");
    expect_refusal(t, "move the fifth sentence to the end", 0, "has 3 sentences");
    expect_refusal(t, "remove the sentence about dragons", 0, "dragons");
}

static void test_edit_words_in_place(void **state)
{
    (void)state;
    expect_edit(tea, "insert 'really' before 'important'",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. It was very really important.");
    expect_edit(tea, "add 'Sadly,' before 'it was'",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. Sadly, it was very important.");
    expect_edit(tea, "add 'today' at the end of the first sentence",
                "The colonists were upset about taxes today. They threw tea into the harbor at "
                "the Boston Tea Party. It was very important.");
    expect_edit(tea, "use furious instead of upset",
                "The colonists were furious about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. It was very important.");
    expect_edit(tea, "swap upset for angry",
                "The colonists were angry about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. It was very important.");
    expect_edit(tea, "remove 'very' from the third sentence",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. It was important.");
    expect_refusal(tea, "remove 'very' from the first sentence", 0, "in that sentence");
    expect_edit(tea, "move the word 'very' after 'was'",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party. It was very important.");
    expect_edit("So, it rains a lot.", "remove so", "It rains a lot.");
    expect_edit("I said don't go.", "change don't to do not", "I said do not go.");
}

static void test_edit_case_split_join(void **state)
{
    (void)state;
    expect_edit(tea, "capitalise 'harbor'",
                "The colonists were upset about taxes. They threw tea into the Harbor at the "
                "Boston Tea Party. It was very important.");
    expect_edit(tea, "make 'tea' uppercase",
                "The colonists were upset about taxes. They threw TEA into the harbor at the "
                "Boston TEA Party. It was very important.");
    expect_edit("the sky is blue. grass is green.", "capitalise every sentence",
                "The sky is blue. Grass is green.");
    expect_edit("the sky is blue. grass is green.", "capitalize the second sentence",
                "the sky is blue. Grass is green.");
    expect_edit(tea, "lowercase 'Boston Tea Party'",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "boston tea party. It was very important.");
    expect_edit(tea, "split the second sentence after 'harbor'",
                "The colonists were upset about taxes. They threw tea into the harbor. At the "
                "Boston Tea Party. It was very important.");
    expect_edit("It rained all day and the river rose over the road.",
                "split the sentence at 'and'", "It rained all day. The river rose over the road.");
    expect_edit("It rained all day, and the river rose.", "split the first sentence",
                "It rained all day. The river rose.");
    expect_refusal("It rained.", "split the sentence", 0, "Where should I split");
    expect_edit(tea, "join the first two sentences",
                "The colonists were upset about taxes and they threw tea into the harbor at the "
                "Boston Tea Party. It was very important.");
    expect_edit(tea, "join the second sentence with the next one",
                "The colonists were upset about taxes. They threw tea into the harbor at the "
                "Boston Tea Party and it was very important.");
    expect_edit(tea, "join sentences 1 and 3 using 'because'",
                "The colonists were upset about taxes because it was very important. They threw "
                "tea into the harbor at the Boston Tea Party.");
    expect_edit("We like Boston. Boston is big.", "join the first two sentences",
                "We like Boston and Boston is big.");
    expect_edit("Plants need rain. Don't forget the sun.", "combine the last two sentences",
                "Plants need rain and don't forget the sun.");
    expect_refusal("One sentence.", "join the first two sentences", 0, "has 1 sentence");
}

static void test_edit_refuses_missing_text_and_unknown_commands(void **state)
{
    const char *t = "The cat sat on the mat.";
    char err[256] = "", *out = (char *)"x";

    (void)state;
    assert_int_equal(tutor_offline_edit(t, "replace dog with cat", &out, err, sizeof err, NULL),
                     LX_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err, "\"dog\""));
    expect_refusal(t, "delete 'the rug'", 0, "the rug");
    /* "at" is not a word of the text, only part of "cat" and "sat". */
    expect_refusal(t, "delete at", 0, "\"at\"");
    expect_refusal(t, "do a little dance", 0, "Remove the word 'very'");
    expect_refusal(t, "replace cat", 0, "did not understand");
    expect_refusal(t, "delete", 0, "did not understand");
    expect_refusal(t, "", 0, "did not understand");
    /* What only a model can do, offline. */
    expect_refusal(t, "make it better", 1, "needs a language model");
    expect_refusal(t, "simplify it", 1, "needs a language model");
    expect_refusal(t, "rewrite the first sentence", 1, "needs a language model");
    expect_refusal(t, "change the first sentence to sound nicer", 1, "needs a language model");
    /* A message cut short by a small buffer stays a string. */
    assert_int_equal(tutor_offline_edit(t, "rephrase it", &out, err, 16, NULL), LX_EINVAL);
    assert_int_equal(strlen(err), 15);
}

/* ---- reading level and counts ---- */

static void test_fk_grade_ranks_simple_below_complex(void **state)
{
    const char *simple = "The cat sat. The dog ran. We had fun in the sun.";
    const char *complex =
        "Photosynthetic organisms convert electromagnetic radiation into chemical energy, "
        "synthesising carbohydrates from atmospheric carbon dioxide through a complicated "
        "sequence of enzymatic reactions occurring within specialised organelles.";
    double gs = tutor_fk_grade(simple), gc = tutor_fk_grade(complex);

    (void)state;
    assert_true(gs >= 0.0 && gs < 3.0);
    assert_true(gc > 12.0 && gc <= 18.0);
    assert_true(gs < gc);
    assert_true(tutor_fk_grade(photosynthesis) > gs);
    assert_true(tutor_fk_grade("") == 0.0);
    assert_true(tutor_fk_grade("  ... ") == 0.0);
}

static void test_word_count_counts_words_not_punctuation(void **state)
{
    (void)state;
    assert_int_equal(tutor_word_count("It's a well-known fact: 3.5 billion years!"), 7);
    assert_int_equal(tutor_word_count(""), 0);
    assert_int_equal(tutor_word_count("  ,, -- ! "), 0);
    assert_int_equal(tutor_word_count("caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 ok"), 3);
    assert_int_equal(tutor_word_count(photosynthesis), 185);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentences_keep_abbreviations_and_decimals_whole),
        cmocka_unit_test(test_sentences_split_at_marks_quotes_and_blank_lines),
        cmocka_unit_test(test_sentences_of_blank_text_are_none),
        cmocka_unit_test(test_answer_holds_the_sentence_with_the_fact),
        cmocka_unit_test(test_answer_joins_best_sentences_in_passage_order),
        cmocka_unit_test(test_answer_without_shared_word_is_not_found),
        cmocka_unit_test(test_quiz_gives_five_sound_questions_from_a_passage),
        cmocka_unit_test(test_quiz_is_deterministic_for_a_seed),
        cmocka_unit_test(test_quiz_on_short_text_gives_fewer_questions),
        cmocka_unit_test(test_mcq_pick_understands_letters_numbers_and_text),
        cmocka_unit_test(test_refine_removes_fillers_and_repeats),
        cmocka_unit_test(test_refine_drops_clause_fillers_and_capitalises_sentences),
        cmocka_unit_test(test_refine_keeps_ended_text_and_adds_no_word),
        cmocka_unit_test(test_edit_applies_every_command_form),
        cmocka_unit_test(test_edit_understands_the_frontend_examples),
        cmocka_unit_test(test_edit_sentences_by_position_and_content),
        cmocka_unit_test(test_edit_words_in_place),
        cmocka_unit_test(test_edit_case_split_join),
        cmocka_unit_test(test_edit_refuses_missing_text_and_unknown_commands),
        cmocka_unit_test(test_fk_grade_ranks_simple_below_complex),
        cmocka_unit_test(test_word_count_counts_words_not_punctuation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
