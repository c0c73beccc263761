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
timed() {  # timed NAME COMMAND...: its output in NAME.txt, its exit code and seconds in times.txt
  local name=$1 t; shift; t=$(ts)
  "$@" > $O/$name.txt 2>&1; echo "${name}_rc $? s $(echo "$(ts) - $t" | bc)" >> $O/times.txt
}
: > $O/times.txt
timed ingest sanad ingest $ARTICLES
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
fault_round() {  # after the fault $1: a question, check and repair timed, answers and sources compared
  sanad ask "من فاز؟" > $O/ask-$1.txt 2>&1; echo "ask-$1_rc $?" >> $O/times.txt
  timed check-$1 sanad check
  timed repair-$1 sanad repair
  ask_all > $O/answers-after-$1.txt
  sanad sources --json > $O/sources-after-$1.json
  compare $O/answers-before.txt $O/answers-after-$1.txt >> $O/times.txt
  cmp $O/sources-before.json $O/sources-after-$1.json && echo "sources after $1 identical" >> $O/times.txt
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
fault_round damaged
seg=$(ls -S $SANAD_HOME/chroma/*/data_level0.bin | head -1); sz=$(stat -c %s $seg); truncate -s $((sz/4)) $seg
fault_round truncated
timed check-full sanad check --full
# an index made before the article store (built by the previous commit's code)
[ -n "$OLD" ] || { echo done >> $O/times.txt; exit 0; }
export SANAD_HOME=$OLD
timed old-check sanad check
timed old-repair sanad repair
echo done >> $O/times.txt
