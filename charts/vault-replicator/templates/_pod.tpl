{{/* The pod of a side: its CronJobs' pod template and the `helm test` pod share it.
Arguments: dict root side component args. */}}
{{- define "vr.podLabels" -}}
{{- $ := .root -}}
{{ include "vr.selectorLabels" $ }}
app.kubernetes.io/component: {{ .component }}
{{- with omit ($.Values.podLabels | default dict) "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "vr.podSpec" -}}
{{- $ := .root -}}
{{- $side := .side -}}
{{- $s := index $.Values $side -}}
{{- $keys := ternary (dict "env" "REPLICATOR_AGE_RECIPIENTS" "key" "age-recipients") (dict "env" "REPLICATOR_VERIFY_KEY" "key" "verify-key") (eq $side "export") -}}
restartPolicy: Never
serviceAccountName: {{ include "vr.serviceAccountName" $ }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with $.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: vault-replicator
    image: {{ include "vr.image" $ }}
    imagePullPolicy: {{ $.Values.image.pullPolicy }}
    args: {{ toJson .args }}
    envFrom:
      - configMapRef:
          name: {{ include "vr.name" (list $ (printf "%s-config" $side)) }}
    env:
      {{- with $.Values.store.credentialsSecret }}
      - name: AWS_ACCESS_KEY_ID
        valueFrom:
          secretKeyRef:
            name: {{ . }}
            key: AWS_ACCESS_KEY_ID
      - name: AWS_SECRET_ACCESS_KEY
        valueFrom:
          secretKeyRef:
            name: {{ . }}
            key: AWS_SECRET_ACCESS_KEY
      {{- end }}
      - name: {{ $keys.env }}
        valueFrom:
          secretKeyRef:
            name: {{ $s.keysSecret }}
            key: {{ $keys.key }}
      {{- with $.Values.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    resources:
      {{- include "vr.resources" (list $ $s) | nindent 6 }}
    {{- with $.Values.securityContext }}
    securityContext:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    # The last line on stderr names the failure; `kubectl describe` shows it.
    terminationMessagePolicy: FallbackToLogsOnError
    volumeMounts:
      - name: vault-token
        mountPath: /var/run/secrets/vault
        readOnly: true
      - name: keys
        mountPath: /etc/vault-replicator/keys
        readOnly: true
      {{- if $.Values.vault.caSecret }}
      - name: vault-ca
        mountPath: /etc/vault-replicator/tls
        readOnly: true
      {{- end }}
      - name: scratch
        mountPath: /tmp
      {{- with $.Values.extraVolumeMounts }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
volumes:
  # A token for Vault only (the Vault role's audience), short-lived.
  - name: vault-token
    projected:
      sources:
        - serviceAccountToken:
            audience: {{ $.Values.auth.audience }}
            expirationSeconds: {{ $.Values.auth.tokenExpirationSeconds }}
            path: token
  - name: keys
    secret:
      secretName: {{ $s.keysSecret }}
      defaultMode: 256 # 0400
  {{- with $.Values.vault.caSecret }}
  - name: vault-ca
    secret:
      secretName: {{ . }}
  {{- end }}
  # The export's spool, sealed (src/snapshot/spool.rs); an import writes nothing here.
  - name: scratch
    emptyDir:
      {{- with $s.scratch.medium }}
      medium: {{ . }}
      {{- end }}
      sizeLimit: {{ $s.scratch.sizeLimit }}
  {{- with $.Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}
