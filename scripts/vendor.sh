#!/usr/bin/env bash
# Refresh the vendored browser libraries from the npm registry, at pinned versions.
# The files are committed; nothing is fetched at run time (no CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
SWAGGER_UI=5.35.0
BPMN_JS=18.31.1
FORM_JS=1.23.0
ECHARTS=5.6.0
dest=app/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm init -y >/dev/null 2>&1 && npm install --silent --no-audit --no-fund --ignore-scripts \
    "swagger-ui-dist@$SWAGGER_UI" "bpmn-js@$BPMN_JS" "@bpmn-io/form-js@$FORM_JS" "echarts@$ECHARTS" >/dev/null 2>&1 )
m="$work/node_modules"
rm -rf "$dest" && mkdir -p "$dest/swagger-ui" "$dest/bpmn-js" "$dest/form-js" "$dest/echarts"
cp "$m/swagger-ui-dist/swagger-ui-bundle.js" "$m/swagger-ui-dist/swagger-ui-standalone-preset.js" "$m/swagger-ui-dist/swagger-ui.css" \
   "$m/swagger-ui-dist/LICENSE" "$dest/swagger-ui/"
cp "$m/bpmn-js/dist/bpmn-viewer.production.min.js" "$m/bpmn-js/dist/bpmn-modeler.production.min.js" \
   "$m/bpmn-js/LICENSE" "$dest/bpmn-js/"
cp -r "$m/bpmn-js/dist/assets" "$dest/bpmn-js/assets"
cp "$m/@bpmn-io/form-js/dist/form-viewer.umd.js" "$m/@bpmn-io/form-js/dist/form-editor.umd.js" \
   "$m/@bpmn-io/form-js/LICENSE" "$dest/form-js/" 2>/dev/null || cp -r "$m/@bpmn-io/form-js/dist/." "$dest/form-js/"
cp -r "$m/@bpmn-io/form-js/dist/assets" "$dest/form-js/assets" 2>/dev/null || true
cp "$m/echarts/dist/echarts.min.js" "$m/echarts/LICENSE" "$m/echarts/NOTICE" "$dest/echarts/"
cat > "$dest/VERSIONS" <<V
swagger-ui-dist $SWAGGER_UI
bpmn-js $BPMN_JS
@bpmn-io/form-js $FORM_JS
echarts $ECHARTS
V
du -sh "$dest"/*
