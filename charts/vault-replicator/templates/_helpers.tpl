{{/* The chart's name (label app.kubernetes.io/name): vault-replicator, or nameOverride. */}}
{{- define "vr.base" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name, as other charts make it: fullnameOverride; else the release name
when it contains the chart's name (release vault-replicator: vault-replicator); else
<release>-<name>. Truncated to 63 characters. */}}
{{- define "vr.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "vr.base" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* An object's name: fullname, part, nameSuffix (vault-replicator-export-failback); at most
52 characters, as a CronJob's name must be. */}}
{{- define "vr.name" -}}
{{- $root := index . 0 -}}{{- $part := index . 1 -}}
{{- $name := include "vr.fullname" $root -}}
{{- if $part }}{{ $name = printf "%s-%s" $name $part }}{{ end -}}
{{- printf "%s%s" $name $root.Values.nameSuffix | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "vr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vr.name" (list . "")) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The labels that tell this release's pods apart (NetworkPolicy podSelector). */}}
{{- define "vr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vr.base" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "vr.labels" -}}
{{ include "vr.selectorLabels" . }}
app.kubernetes.io/part-of: vault
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "vr.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ $img.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The sides this release deploys, in order: export, import. Both in one release need a key
Secret each: the import pod must not mount the export's signing key. */}}
{{- define "vr.sides" -}}
{{- $sides := list -}}
{{- if .Values.export.enabled }}{{ $sides = append $sides "export" }}{{ end -}}
{{- if .Values.import.enabled }}{{ $sides = append $sides "import" }}{{ end -}}
{{- if not $sides }}{{ fail "vault-replicator: set export.enabled, import.enabled, or both" }}{{ end -}}
{{- if and .Values.export.enabled .Values.import.enabled (eq .Values.export.keysSecret .Values.import.keysSecret) -}}
{{- fail "vault-replicator: with both sides enabled, export.keysSecret and import.keysSecret must differ (the import pod must not mount the signing key)" -}}
{{- end -}}
{{- join "," $sides -}}
{{- end -}}

{{/* A side's container resources: the top-level `resources`, with the side's `resources`
merged over it key by key. */}}
{{- define "vr.resources" -}}
{{- $root := index . 0 -}}{{- $s := index . 1 -}}
{{- toYaml (mergeOverwrite (deepCopy ($root.Values.resources | default dict)) (deepCopy ($s.resources | default dict))) -}}
{{- end -}}

{{/* A duration as REPLICATOR_MAX_AGE takes it (40m, 1h30m, 7d) in seconds. */}}
{{- define "vr.seconds" -}}
{{- $units := dict "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+[smhdw]" . -1 -}}
{{- $total = add $total (mul (atoi (trimSuffix (substr (sub (len .) 1 | int) (len .) .) .)) (get $units (substr (sub (len .) 1 | int) (len .) .))) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
