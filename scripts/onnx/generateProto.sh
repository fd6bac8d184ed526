#!/bin/sh
# Generates src/main/engine/models/onnx/onnx.proto.json, the protobufjs JSON descriptor of the official onnx.proto
# the ONNX reader decodes with (src/main/engine/models/onnx/reader.ts).
#
# Source: onnx.proto of ONNX 1.12.0 (IR_VERSION 8, opsets up to 17), as shipped by Debian bookworm's python3-onnx
# 1.12.0-2 (`apt-get install -y python3-onnx`) at /usr/lib/python3/dist-packages/onnx/onnx.proto.
# Tool: protobufjs-cli (pbjs), a devDependency.  Run from the repository root:  sh scripts/onnx/generateProto.sh
set -eu
PROTO="${1:-/usr/lib/python3/dist-packages/onnx/onnx.proto}"
npx pbjs -t json --keep-case "$PROTO" > src/main/engine/models/onnx/onnx.proto.json
