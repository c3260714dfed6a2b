#!/usr/bin/env bash
# The deployment's one entry point, behind `make deploy` and `make destroy`.
#
#   infra/stack.sh deploy     sam deploy of infra/template.yaml with deploy.env's settings
#   infra/stack.sh destroy    what the scheduler holds stopped, then sam delete
#
# deploy.env (copied from deploy.env.example) is the one source of a deployment's
# settings: every deploy (the first, every update, and a create after a destroy)
# passes all of them, so the stack never falls back to the template's defaults and
# never keeps a value deploy.env no longer says. No samconfig.toml is read or written.
#
# `sam` and `aws` are the first found on PATH (SAM_CLI and AWS_CLI override them), so a
# wrapper, or a recorder in a test, stands in for either.
set -euo pipefail

env_file=${DEPLOY_ENV:-deploy.env}
sam=${SAM_CLI:-sam}
aws=${AWS_CLI:-aws}
template=infra/template.yaml

die() {
  echo "$*" >&2
  exit 1
}

# deploy.env's settings: UPPER_CASE names are the deployment's own (STACK_NAME,
# REGION, AWS_PROFILE), CamelCase names are the template's parameters. Read as data,
# never sourced: a value is the text after the first "=", surrounding quotes removed.
declare -A deployment=()
declare -a parameter_names=()
declare -A parameters=()
read_env() {
  [[ -f $env_file ]] || die "no $env_file: cp deploy.env.example $env_file and fill STACK_NAME and REGION (or make deploy GUIDED=1 to answer SAM's questions instead)"
  local line key value n=0
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*([A-Za-z][A-Za-z0-9_]*)=(.*)$ ]] ||
      die "$env_file line $n: expected NAME=VALUE, found: $line"
    key=${BASH_REMATCH[1]}
    value=${BASH_REMATCH[2]}
    value=${value%"${value##*[![:space:]]}"}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
      value=${BASH_REMATCH[1]}
    fi
    [[ $value != *'"'* ]] || die "$env_file line $n: $key: a value cannot contain a double quote"
    case $key in
      STACK_NAME | REGION | AWS_PROFILE) deployment[$key]=$value ;;
      [A-Z][a-z]*)
        [[ -v "parameters[$key]" ]] || parameter_names+=("$key")
        parameters[$key]=$value
        ;;
      *) die "$env_file line $n: $key is neither a setting of the deployment (STACK_NAME, REGION, AWS_PROFILE) nor a template parameter (CamelCase, as in $template)" ;;
    esac
  done <"$env_file"
}

# Settings given to make (make deploy STACK=… REGION=… PARAMS="Name=value …") win
# over deploy.env's.
apply_overrides() {
  [[ -n ${STACK:-} ]] && deployment[STACK_NAME]=$STACK
  [[ -n ${REGION:-} ]] && deployment[REGION]=$REGION
  local pair
  for pair in ${PARAMS:-}; do
    [[ $pair =~ ^([A-Z][A-Za-z0-9]*)=(.*)$ ]] || die "PARAMS: expected Name=value, found: $pair"
    [[ -v "parameters[${BASH_REMATCH[1]}]" ]] || parameter_names+=("${BASH_REMATCH[1]}")
    parameters[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  done
  [[ -n ${deployment[STACK_NAME]:-} ]] || die "$env_file: set STACK_NAME (the stack's name; its tables are named after it)"
  [[ -n ${deployment[REGION]:-} ]] || die "$env_file: set REGION (the AWS Region to deploy to, for example ap-northeast-2)"
  [[ ${deployment[STACK_NAME]} =~ ^[A-Za-z][A-Za-z0-9-]{0,100}$ ]] ||
    die "STACK_NAME=${deployment[STACK_NAME]}: a stack name is letters, digits and hyphens, starting with a letter"
  [[ -n ${deployment[AWS_PROFILE]:-} ]] && export AWS_PROFILE=${deployment[AWS_PROFILE]}
  stack=${deployment[STACK_NAME]}
  region=${deployment[REGION]}
}

# Whether the stack exists now (in any state but deleted).
stack_exists() {
  local status
  status=$("$aws" cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query 'Stacks[0].StackStatus' --output text 2>/dev/null) || return 1
  [[ -n $status && $status != None && $status != DELETE_COMPLETE ]]
}

# Whether the table exists: describe-table answers with its name.
table_exists() {
  local name
  name=$("$aws" dynamodb describe-table --table-name "$1" --region "$region" \
    --query 'Table.TableName' --output text 2>/dev/null) || return 1
  [[ $name == "$1" ]]
}

# A stack created again after `make destroy` finds its three schedule tables retained
# (DeletionPolicy: Retain). Creating them again would fail ("already exists"), so the
# new stack adopts them by name (CreateScheduleTables=false), items and all. An update
# keeps whatever the stack has (SAM passes the previous value).
adopt_retained_tables() {
  [[ ${parameters[CreateScheduleTables]:-true} == true ]] || return 0
  [[ -v "parameters[CreateScheduleTables]" ]] && unset "parameters[CreateScheduleTables]"
  if stack_exists; then
    return 0
  fi
  local names=(
    "${parameters[ScheduleTableName]:-$stack-Schedule}"
    "${parameters[GroupTableName]:-$stack-ScheduleServerGroup}"
    "${parameters[ExceptionTableName]:-$stack-ScheduleException}"
  )
  local found=() missing=() name
  for name in "${names[@]}"; do
    if table_exists "$name"; then found+=("$name"); else missing+=("$name"); fi
  done
  if ((${#found[@]} == 3)); then
    echo "Adopting the retained schedule tables ${found[*]} (CreateScheduleTables=false): their items are kept."
    parameters[CreateScheduleTables]=false
    parameter_names+=(CreateScheduleTables)
  elif ((${#found[@]} > 0)); then
    die "tables ${found[*]} exist but ${missing[*]} do not: restore or remove them, or set CreateScheduleTables=false and the three table names in $env_file"
  fi
}

# Every parameter as Name="value": SAM reads the quotes, so empty values and lists
# with commas pass as they are.
overrides() {
  local name
  for name in "${parameter_names[@]}"; do
    [[ -v "parameters[$name]" ]] && printf '%s="%s"\n' "$name" "${parameters[$name]}"
  done
  return 0
}

deploy() {
  local guided=${GUIDED:-}
  if [[ -n $guided && $guided != 0 && ! -f $env_file ]]; then
    # SAM asks for everything; its answers are not kept (deploy.env is the record).
    exec "$sam" deploy --guided --template-file "$template" --capabilities CAPABILITY_IAM \
      --stack-name "${STACK:-instance-scheduler}" ${REGION:+--region "$REGION"}
  fi
  read_env
  apply_overrides
  local args=()
  mapfile -t args < <(overrides)
  if [[ -n $guided && $guided != 0 ]]; then
    exec "$sam" deploy --guided --template-file "$template" --capabilities CAPABILITY_IAM \
      --stack-name "$stack" --region "$region" ${args[@]:+--parameter-overrides "${args[@]}"}
  fi
  adopt_retained_tables
  mapfile -t args < <(overrides)
  exec "$sam" deploy --template-file "$template" --stack-name "$stack" --region "$region" \
    --capabilities CAPABILITY_IAM --resolve-s3 --no-confirm-changeset \
    --no-fail-on-empty-changeset ${args[@]:+--parameter-overrides "${args[@]}"}
}

# What the scheduler holds stopped or at zero is listed (schedctl held) before the
# stack goes; RESTORE=1 starts it first through the function, RESTORE=0 deletes
# anyway. The schedule tables stay (DeletionPolicy: Retain).
destroy() {
  read_env
  apply_overrides
  local schedctl=${SCHEDCTL:-target/debug/schedctl}
  if stack_exists; then
    local held=0
    if [[ ${RESTORE:-} == 1 ]]; then
      "$schedctl" --stack "$stack" --region "$region" held --restore
    else
      "$schedctl" --stack "$stack" --region "$region" held || held=$?
      if ((held == 3)) && [[ ${RESTORE:-} != 0 ]]; then
        die "The scheduler holds the resources above stopped or at zero, and nothing starts them once the stack is gone: make destroy RESTORE=1 starts them first, RESTORE=0 deletes the stack anyway."
      elif ((held != 0 && held != 3)); then
        die "cannot list what the scheduler holds (above); RESTORE=0 deletes the stack without looking"
      fi
    fi
  fi
  "$sam" delete --stack-name "$stack" --region "$region" --no-prompts
  echo "Deleted $stack. Kept: the schedule tables ${parameters[ScheduleTableName]:-$stack-Schedule}, ${parameters[GroupTableName]:-$stack-ScheduleServerGroup}, ${parameters[ExceptionTableName]:-$stack-ScheduleException}"
  echo "(DeletionPolicy: Retain). make deploy with the same STACK_NAME adopts them again. To remove them:"
  echo "  aws dynamodb update-table --region $region --table-name NAME --no-deletion-protection-enabled"
  echo "  aws dynamodb delete-table --region $region --table-name NAME"
}

case ${1:-} in
  check) [[ -n ${GUIDED:-} && ${GUIDED:-} != 0 && ! -f $env_file ]] || { read_env && apply_overrides; } ;;
  deploy) deploy ;;
  destroy) destroy ;;
  *) die "usage: infra/stack.sh check|deploy|destroy" ;;
esac
