#!/usr/bin/env bash
# Pre-run hook of the churn-model stacks in Pulumi Deployments (deployments/settings.ts
# declares it after `npm ci`). It installs the resource plugins the project's CLIs load and
# compiles the TypeScript to dist/ (npm run build), then, for an `update` only, runs the
# project's own command instead of a bare `pulumi up`:
#   staging     npm run deploy   (policy pack, smoke tests, rollback on failure)
#   production  npm run promote  inside the approved release environment (gate, signed
#                                evidence, rollout watch, rollback)
# The Deployment's own operation runs afterwards and finds nothing left to change. Other
# operations (preview, refresh, drift detection) get the plugins and the build only.
# Environment (set by the deployment settings): CHURN_STACK, CHURN_PULUMI_PLUGINS, and on
# production CHURN_RELEASE_ENVIRONMENT and optionally CHURN_PROMETHEUS_URL; PULUMI_CI_OPERATION
# is set by Pulumi Deployments.
set -euo pipefail
stack=${1:?usage: deployments/pre-run.sh staging|production}
: "${CHURN_STACK:?must be set by the deployment settings}"
: "${CHURN_PULUMI_PLUGINS:?must be set by the deployment settings}"

eval "$(node_modules/.bin/ts-node --transpile-only scripts/toolchain/cli.ts env)"
for plugin in $CHURN_PULUMI_PLUGINS; do
  pulumi plugin install resource "${plugin%@*}" "${plugin#*@}"
done
# The CLIs and the program (Pulumi.yaml `main`) run the compiled JavaScript in dist/, which a
# fresh checkout does not have: every operation needs it.
npm run build

operation=${PULUMI_CI_OPERATION:-unknown}
if [ "$operation" != update ]; then
  echo "pre-run: operation $operation runs as it is"
  exit 0
fi

case $stack in
  staging)
    version=$(pulumi config get churn-model:modelVersion --stack "$CHURN_STACK")
    npm run deploy -- --stack staging --model-version "$version"
    ;;
  production)
    : "${CHURN_RELEASE_ENVIRONMENT:?must be set by the deployment settings}"
    # Single quotes: the variables are those of the opened release environment.
    # shellcheck disable=SC2016
    pulumi env run "$CHURN_RELEASE_ENVIRONMENT" -- bash -c \
      'npm run promote -- --from staging --to production --model-version "$CHURN_MODEL_VERSION" --approved-by "$CHURN_APPROVED_BY" ${CHURN_PROMETHEUS_URL:+--prometheus-url "$CHURN_PROMETHEUS_URL"}'
    ;;
  *)
    echo "pre-run: unknown stack $stack (expected staging or production)" >&2
    exit 2
    ;;
esac
