#!/bin/sh
# One-shot bucket set-up for the compose stack, run by the minio-init service with the MinIO
# client image: it waits for MinIO, creates the bucket and keeps it private. linkyard serves
# every object itself (pastes, favicons, QR images), so the bucket needs no public policy.
set -eu
until mc alias set local "$MINIO_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
    echo "waiting for MinIO at $MINIO_URL"
    sleep 1
done
mc mb --ignore-existing "local/$LINKYARD_BUCKET"
mc anonymous set none "local/$LINKYARD_BUCKET"
echo "bucket $LINKYARD_BUCKET ready"
