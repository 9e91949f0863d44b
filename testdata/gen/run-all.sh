#!/usr/bin/env bash
# Regenerates every payload in ../otlp/ from the apps in this folder (loopback only: each app starts the
# mock OpenAI server and the OTLP capture server on 127.0.0.1 with OS-chosen ports).
# Usage: ./run-all.sh [family ...]     e.g. ./run-all.sh openinference vercel-ai-v4
set -euo pipefail
cd "$(dirname "$0")"
declare -A SCENARIOS=(
  [openinference]="app.mjs:stream app.mjs:embeddings app.mjs:error app.mjs:agent-rag"
  [otel-genai]="app.cjs:chat-greeting app.cjs:stream app.cjs:tools app.cjs:responses app.cjs:embeddings app.cjs:error"
  [openllmetry]="app.cjs:stream app.cjs:error app.cjs:agent"
  [vercel-ai-v4]="app.mjs:tools app.mjs:stream app.mjs:embed"
  [vercel-ai-v6]="app.mjs:error app.mjs:embed app.mjs:embed-many"
  [vercel-ai-v7]="app.mjs:embed app.mjs:embed-many app.mjs:stream"
  [langfuse]="app.mjs:cache-cost app.mjs:error"
  [azure-ai-inference]="app.cjs:events"
  [semconv-handmade]="app.mjs:"
)
families=("$@")
[ ${#families[@]} -eq 0 ] && families=(openinference otel-genai openllmetry vercel-ai-v4 vercel-ai-v6 vercel-ai-v7 langfuse azure-ai-inference semconv-handmade)
for fam in "${families[@]}"; do
  echo "== $fam"
  (cd "$fam" && [ -d node_modules ] || (cd "$fam" && npm ci --no-audit --no-fund))
  for item in ${SCENARIOS[$fam]}; do
    script=${item%%:*}; scenario=${item#*:}
    (cd "$fam" && timeout 120 node "$script" $scenario)
  done
done
