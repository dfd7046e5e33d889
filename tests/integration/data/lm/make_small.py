#!/usr/bin/env python3
"""Makes small.arpa (next to this file): a real back-off trigram model of
the sentences below, absolute discounting (D = 0.5) with back-off weights
that make every history's distribution sum to 1, for
test_speech_lm_prune.py. Run it again only to change the fixture."""

import collections
import math
import os

SENTENCES = """the water cycle moves water from the ocean to the sky
plants need light and water to grow
the students read the chapter about the moon
the moon moves around the earth
the students need water
plants grow in the light
the ocean moves water to the sky
the students read about the water cycle
light from the sun moves to the earth
the earth moves around the sun
students grow plants in the light
read the chapter about plants""".splitlines()
D = 0.5


def main():
    uni, bi, tri = collections.Counter(), collections.Counter(), collections.Counter()
    for s in SENTENCES:
        w = ["<s>"] + s.split() + ["</s>"]
        uni.update(w[1:])
        bi.update(zip(w, w[1:]))
        tri.update(zip(w, w[1:], w[2:]))
    vocab = sorted(set(uni) | {"<s>"})
    n = sum(uni.values())
    p1 = {w: uni[w] / n for w in uni}

    def hist_counts(c, k):
        h = collections.defaultdict(dict)
        for g, x in c.items():
            h[g[:k]][g[k]] = x
        return h

    p2, bo1 = {}, {}
    for (a,), succ in hist_counts(bi, 1).items():
        tot = sum(succ.values())
        for w, x in succ.items():
            p2[(a, w)] = (x - D) / tot
        left = D * len(succ) / tot
        bo1[a] = left / (1 - sum(p1[w] for w in succ))

    def prob2(a, w):
        return p2[(a, w)] if (a, w) in p2 else bo1.get(a, 1.0) * p1[w]

    p3, bo2 = {}, {}
    for (a, b), succ in hist_counts(tri, 2).items():
        tot = sum(succ.values())
        for w, x in succ.items():
            p3[(a, b, w)] = (x - D) / tot
        left = D * len(succ) / tot
        bo2[(a, b)] = left / (1 - sum(prob2(b, w) for w in succ))

    lg = math.log10
    out = ["\\data\\", "ngram 1=%d" % len(vocab), "ngram 2=%d" % len(p2), "ngram 3=%d" % len(p3),
           "", "\\1-grams:"]
    for w in vocab:
        out.append("%.6f\t%s\t%.6f" % (-99 if w == "<s>" else lg(p1[w]), w, lg(bo1.get(w, 1.0))))
    out += ["", "\\2-grams:"]
    for g in sorted(p2):
        out.append("%.6f\t%s\t%.6f" % (lg(p2[g]), " ".join(g), lg(bo2.get(g, 1.0))))
    out += ["", "\\3-grams:"]
    for g in sorted(p3):
        out.append("%.6f\t%s" % (lg(p3[g]), " ".join(g)))
    out += ["", "\\end\\", ""]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "small.arpa"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
