{{/* Chart name, truncated to 63 characters. */}}
{{- define "imagerollout.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: the release name, plus the chart name unless it contains it. */}}
{{- define "imagerollout.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "imagerollout.selectorLabels" -}}
app.kubernetes.io/name: {{ include "imagerollout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "imagerollout.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "imagerollout.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "imagerollout.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "imagerollout.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespaces the operator watches, as a JSON list ([] means every namespace). */}}
{{- define "imagerollout.watchNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- toJson .Values.watchNamespaces -}}
{{- else if eq .Values.rbac.scope "namespace" -}}
{{- toJson (list .Release.Namespace) -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{- define "imagerollout.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
What the operator calls, and nothing more: kopf lists and watches the rollouts (its event
handlers need no finalizer, so it never patches them); the reconciler (operator/imagerollout/kube/client.py) gets and creates
Deployments and Services, updates the primary Deployment and the HTTPRoute (or VirtualService),
reads a DestinationRule or InferencePools, scales the target (patch), patches rollout status, posts Events and reads the suite ConfigMap of a rollout with
quality gates. tests/e2e/test_rbac.py records every request of a full rollout and checks that
each rule here is used.
*/}}
{{- define "imagerollout.rules" -}}
- apiGroups: [imagerollout.dev]
  resources: [imagemodelrollouts]
  # list, watch: the informer; get: the evidence report page (report/server.py)
  verbs: [get, list, watch]
- apiGroups: [imagerollout.dev]
  resources: [imagemodelrollouts/status]
  verbs: [patch]
# Not an API call: owned Deployments and Services carry blockOwnerDeletion, which clusters with
# the OwnerReferencesPermissionEnforcement admission plugin only allow with this permission.
- apiGroups: [imagerollout.dev]
  resources: [imagemodelrollouts/finalizers]
  verbs: [update]
# delete: a pinned capability's fallback Deployment and Service, once the pin is released.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch, create, delete]
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [list, watch, update]
# The other traffic providers (spec.trafficRouting): Istio edits the VirtualService's weights
# and reads the DestinationRule; the Inference Extension's pools are only read. list, watch:
# their informers, where the CRDs are installed; get: reads until an informer has synced.
- apiGroups: [networking.istio.io]
  resources: [virtualservices]
  verbs: [get, list, watch, update]
- apiGroups: [networking.istio.io]
  resources: [destinationrules]
  verbs: [get, list, watch]
- apiGroups: [inference.networking.k8s.io]
  resources: [inferencepools]
  verbs: [get, list, watch]
# create: the story of each rollout; list: its timeline in the evidence report.
- apiGroups: [""]
  resources: [events]
  verbs: [create, list]
# The validation suite named by spec.analysis.suite.configMapRef (quality gates only).
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
{{- with .Values.rbac.metricProviderSecrets }}
# Only the named Secrets: spec.metrics.provider.prometheus.authSecretRef (token, basic auth, CA).
- apiGroups: [""]
  resources: [secrets]
  resourceNames: {{ toJson . }}
  verbs: [get]
{{- end }}
{{- end -}}

{{/* The scorer's pods: their own name label, so no operator selector (PDB, Service) matches. */}}
{{- define "imagerollout.scorerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "imagerollout.name" . }}-scorer
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "imagerollout.scorerLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "imagerollout.scorerSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: scorer
{{- end -}}
