#!/usr/bin/env bash
# Issue 40's faults on real news, timed as a user meets them (docs/performance.md, "check and repair"):
#   zcat ../shared/data/news/saudinewsnet.jsonl.gz | head -1000 > /tmp/news1000.jsonl
#   bash bench/repair_news.sh /tmp/news1000.jsonl /tmp/repair-bench [OLD_HOME]
# imports ARTICLES into WORK/home (a second run over the same SANAD_CACHE_DIR reuses the embedding
# cache), asks 20 questions, garbles three pages of chroma.sqlite3, times `sanad check` and `sanad
# repair`, asks again; then truncates the largest vector segment and does the same; `check --full`.
# OLD_HOME (optional): a home made before the article store existed, checked and repaired.
# Results: WORK/out/times.txt (exit codes, seconds, "identical" lines) and the outputs beside it.
set -u
export ARTICLES=$1 WORK=$2 OLD=${3:-}
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
export SANAD_HOME=$WORK/home SANAD_CORPUS=
O=$WORK/out; mkdir -p $O
rm -rf $SANAD_HOME
ts() { date +%s.%N; }
t=$(ts); sanad ingest $ARTICLES > $O/ingest.txt 2>&1; echo "ingest_s $(echo "$(ts) - $t" | bc)" > $O/times.txt
python - > $O/questions.txt <<'PY'
import json, os
qs=[json.loads(l)["question"] for l in open("../shared/data/news/dev-questions.jsonl")][:10]
qs+=[json.loads(l)["title"].split(":")[0][:60] + "؟" for l in list(open(os.environ["ARTICLES"]))[::100]]
print("\n".join(qs))
PY
ask_all() { while IFS= read -r q; do sanad ask --json "$q" 2>&1 | python -c "import json,sys; d=json.loads(sys.stdin.read()); print(json.dumps([d['answer'],d['band'],d['confidence'],[c['chunk_id'] for c in d['citations']]],ensure_ascii=False))"; done < $O/questions.txt; }
compare() { python - "$1" "$2" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
same = sum(x[:2] + x[3:] == y[:2] + y[3:] for x, y in zip(a, b))
drift = max(abs(x[2] - y[2]) for x, y in zip(a, b))
print(f"answers {same} of {len(a)} identical (text, band, sources); largest confidence change {drift:.4f}")
PY
}
ask_all > $O/answers-before.txt
sanad sources --json > $O/sources-before.json
python - <<'PY'
import os, random
p=os.environ['WORK'] + '/home/chroma/chroma.sqlite3'; n=os.path.getsize(p); rng=random.Random(3)
with open(p,'r+b') as f:
    for off in (n//4, n//2, 3*n//4):
        f.seek(off - off % 4096); f.write(bytes(rng.randrange(256) for _ in range(4096)))
PY
sanad ask "من فاز؟" > $O/ask-damaged.txt 2>&1; echo "ask_rc $?" >> $O/times.txt
t=$(ts); sanad check > $O/check-damaged.txt 2>&1; echo "check_damaged_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
t=$(ts); sanad repair > $O/repair1.txt 2>&1; echo "repair_sqlite_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
ask_all > $O/answers-after1.txt
sanad sources --json > $O/sources-after1.json
compare $O/answers-before.txt $O/answers-after1.txt >> $O/times.txt
cmp $O/sources-before.json $O/sources-after1.json && echo "sources1 identical" >> $O/times.txt
seg=$(ls -S $SANAD_HOME/chroma/*/data_level0.bin | head -1); sz=$(stat -c %s $seg); truncate -s $((sz/4)) $seg
sanad ask "من فاز؟" > $O/ask-truncated.txt 2>&1; echo "ask_truncated_rc $?" >> $O/times.txt
t=$(ts); sanad check > $O/check-truncated.txt 2>&1; echo "check_truncated_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
t=$(ts); sanad repair > $O/repair2.txt 2>&1; echo "repair_segment_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
ask_all > $O/answers-after2.txt
sanad sources --json > $O/sources-after2.json
compare $O/answers-before.txt $O/answers-after2.txt >> $O/times.txt
cmp $O/sources-before.json $O/sources-after2.json && echo "sources2 identical" >> $O/times.txt
t=$(ts); sanad check --full > $O/check-full.txt 2>&1; echo "check_full_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
# an index made before the article store (built by the previous commit's code)
[ -n "$OLD" ] || { echo done >> $O/times.txt; exit 0; }
export SANAD_HOME=$OLD
sanad check > $O/old-check.txt 2>&1; echo "old_check_rc $?" >> $O/times.txt
t=$(ts); sanad repair > $O/old-repair.txt 2>&1; echo "old_repair_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
echo done >> $O/times.txt
