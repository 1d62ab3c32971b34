{{/*
Names are cut at 63 characters: the limit of a DNS label, and so of most Kubernetes names.
*/}}
{{- define "vault-mcp-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name, plus the chart name unless the release name already contains it.
*/}}
{{- define "vault-mcp-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A name derived from the full name, e.g. "<fullname>-webhook": the suffix always survives the cut.
*/}}
{{- define "vault-mcp-bridge.suffixed" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "vault-mcp-bridge.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{- define "vault-mcp-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The one set of labels every object of the chart carries.
*/}}
{{- define "vault-mcp-bridge.labels" -}}
helm.sh/chart: {{ include "vault-mcp-bridge.chart" . }}
{{ include "vault-mcp-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vault-mcp-bridge
{{- end }}

{{/*
Selector labels: stable across upgrades (a Deployment's selector is immutable).
*/}}
{{- define "vault-mcp-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vault-mcp-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "vault-mcp-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vault-mcp-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vault-mcp-bridge.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) }}
{{- end }}

{{- define "vault-mcp-bridge.sidecarImage" -}}
{{- printf "%s:%s" .Values.sidecar.image.repository (default .Chart.AppVersion .Values.sidecar.image.tag) }}
{{- end }}

{{- define "vault-mcp-bridge.webhookService" -}}
{{- include "vault-mcp-bridge.suffixed" (list . "webhook") }}
{{- end }}

{{- define "vault-mcp-bridge.webhookTLSSecret" -}}
{{- include "vault-mcp-bridge.suffixed" (list . "webhook-tls") }}
{{- end }}

{{/*
Refuse combinations the schema cannot express, with a message that says what to set.
*/}}
{{- define "vault-mcp-bridge.validate" -}}
{{- if and (not .Values.operator.allNamespaces) (not .Values.operator.namespaces) }}
{{- fail "operator.namespaces: list at least one namespace when operator.allNamespaces is false" }}
{{- end }}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.peering.enabled) }}
{{- fail "operator.replicas > 1 needs operator.peering.enabled (kopf peering), or two operators would race" }}
{{- end }}
{{- $auth := .Values.vault.auth }}
{{- if and (eq $auth.method "kubernetes") (not $auth.kubernetes.role) }}
{{- fail "vault.auth.kubernetes.role: required when vault.auth.method is kubernetes" }}
{{- end }}
{{- if and (eq $auth.method "token") (not $auth.token.secretName) }}
{{- fail "vault.auth.token.secretName: required when vault.auth.method is token" }}
{{- end }}
{{- if and (eq $auth.method "approle") (not $auth.approle.secretName) }}
{{- fail "vault.auth.approle.secretName: required when vault.auth.method is approle" }}
{{- end }}
{{- end }}

{{/*
The MutatingWebhookConfiguration. caBundle: the chart's own CA (mode selfSigned), or empty and
filled in by cert-manager's CA injector (mode certManager).
*/}}
{{- define "vault-mcp-bridge.webhookConfiguration" -}}
{{- $root := .root }}
{{- $v := $root.Values.webhook }}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ include "vault-mcp-bridge.fullname" $root }}
  labels:
    {{- include "vault-mcp-bridge.labels" $root | nindent 4 }}
  {{- if eq $v.tls.mode "certManager" }}
  annotations:
    cert-manager.io/inject-ca-from: {{ printf "%s/%s" $root.Release.Namespace (include "vault-mcp-bridge.suffixed" (list $root "webhook")) }}
  {{- end }}
webhooks:
  - name: inject-sidecar.vaultmcp.dev
    admissionReviewVersions: [v1]
    sideEffects: None
    failurePolicy: {{ $v.failurePolicy }}
    timeoutSeconds: {{ $v.timeoutSeconds }}
    # A pod is mutated once, at creation; re-invocation would only see the sidecar already in.
    reinvocationPolicy: Never
    matchPolicy: Equivalent
    clientConfig:
      service:
        name: {{ include "vault-mcp-bridge.webhookService" $root }}
        namespace: {{ $root.Release.Namespace }}
        path: /inject-sidecar
        port: 443
      {{- if .caBundle }}
      caBundle: {{ .caBundle }}
      {{- end }}
    rules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [pods]
        scope: Namespaced
    namespaceSelector:
      {{- toYaml $v.namespaceSelector | nindent 6 }}
    {{- with $v.objectSelector }}
    objectSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}

{{/*
What the operator may do with VaultAgents and their Secrets (a ClusterRole rule set, or a Role
per watched namespace).
*/}}
{{- define "vault-mcp-bridge.agentRules" -}}
- apiGroups: [vaultmcp.dev]
  resources: [vaultagents]
  verbs: [get, list, watch, patch]
- apiGroups: [vaultmcp.dev]
  resources: [vaultagents/status]
  verbs: [get, patch]
# The AppRole credentials Secret next to each agent.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create]
{{- if .Values.operator.peering.enabled }}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
