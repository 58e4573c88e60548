#!/usr/bin/env bash
# Downloads the clouds' published IP ranges (and, with --asn, newer ip-location-db ASN and
# country CSVs) into the enrichment data directory, where tokenwatch picks them up with no
# other configuration (enrich.data_dir, default .tokenwatch/enrich). Run it on a machine with
# internet access, e.g. daily from cron; a running tokenwatch reads the files at its next start.
#
#   scripts/update-enrichment-data.sh [--asn] [DIR]
#
# Each file is downloaded to a temporary name, checked (JSON parses / CSV has rows), then moved
# into place, so a failed download never replaces a good file. Exits non-zero if any failed.
set -uo pipefail

with_asn=0
dir=.tokenwatch/enrich
for arg in "$@"; do
  case "$arg" in
    --asn) with_asn=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) dir=$arg ;;
  esac
done
mkdir -p "$dir"

AWS_URL=${AWS_IP_RANGES_URL:-https://ip-ranges.amazonaws.com/ip-ranges.json}
GCP_URL=${GCP_IP_RANGES_URL:-https://www.gstatic.com/ipranges/cloud.json}
# Azure publishes a new ServiceTags_Public_<date>.json weekly under a changing URL; its
# download page links the current one.
AZURE_PAGE=${AZURE_SERVICE_TAGS_PAGE:-https://www.microsoft.com/en-us/download/details.aspx?id=56519}
# ip-location-db: the npm packages are no longer updated; the repository has the current files.
IPLDB_BASE=${IP_LOCATION_DB_BASE:-https://raw.githubusercontent.com/sapics/ip-location-db/main}

failed=0

fetch() { # url dest-name check(json|csv)
  local url=$1 dest="$dir/$2" tmp="$dir/.$2.tmp"
  if ! curl --fail --silent --show-error --location --max-time 300 -o "$tmp" "$url"; then
    echo "FAILED  $2 ($url)" >&2; rm -f "$tmp"; failed=1; return
  fi
  if [ "$3" = json ]; then
    if ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$tmp" 2>/dev/null; then
      echo "FAILED  $2: not JSON" >&2; rm -f "$tmp"; failed=1; return
    fi
  elif ! head -n 1 "$tmp" | grep -q ','; then
    echo "FAILED  $2: not a CSV" >&2; rm -f "$tmp"; failed=1; return
  fi
  mv -f "$tmp" "$dest"
  echo "updated $dest ($(wc -c <"$dest") bytes)"
}

fetch "$AWS_URL" aws-ip-ranges.json json
fetch "$GCP_URL" gcp-cloud.json json
azure_url=$(curl --fail --silent --location --max-time 60 "$AZURE_PAGE" | grep -oE 'https://download\.microsoft\.com/download/[^"]*ServiceTags_Public_[0-9]+\.json' | head -n 1)
if [ -n "$azure_url" ]; then
  fetch "$azure_url" azure-service-tags.json json
else
  echo "FAILED  azure-service-tags.json: no ServiceTags_Public link on $AZURE_PAGE" >&2; failed=1
fi

if [ "$with_asn" = 1 ]; then
  # same CSV layout as the npm packages: start,end,asn,org and start,end,CC
  fetch "$IPLDB_BASE/asn/asn-ipv4.csv" asn-ipv4.csv csv
  fetch "$IPLDB_BASE/asn/asn-ipv6.csv" asn-ipv6.csv csv
  fetch "$IPLDB_BASE/asn-country/asn-country-ipv4.csv" asn-country-ipv4.csv csv
  fetch "$IPLDB_BASE/asn-country/asn-country-ipv6.csv" asn-country-ipv6.csv csv
fi

exit $failed
