{{- define "ampoule.rules" -}}
- name: ampoule
  rules:
    # The seed guide's alert, unchanged: external_secrets_sync_calls_error counts the
    # ExternalSecrets whose last sync failed, so it fires while a sync keeps failing.
    - alert: SecretSyncFailed
      expr: external_secrets_sync_calls_error > 0
      for: {{ .Values.prometheusRule.syncFailedFor }}
      labels: {severity: warning}
      annotations:
        summary: "ExternalSecret sync failing"
        description: "{{ "{{" }} $value {{ "}}" }} ExternalSecrets fail to sync; see `kubectl get externalsecrets -A` and their events."
    - alert: ExternalSecretStoreNotReady
      expr: max by (name, namespace) (secretstore_status_condition{condition="Ready",status="False"}) == 1 or max by (name) (clustersecretstore_status_condition{condition="Ready",status="False"}) == 1
      for: {{ .Values.prometheusRule.storeNotReadyFor }}
      labels: {severity: warning}
      annotations:
        summary: "Secret store {{ "{{" }} $labels.namespace {{ "}}" }}/{{ "{{" }} $labels.name {{ "}}" }} is not ready"
    - alert: AmpoulePluginEgressDenied
      expr: sum by (rule) (increase(ampoule_plugin_egress_denied_total[10m])) > 0
      labels: {severity: warning}
      annotations:
        summary: "A provider plugin was denied egress ({{ "{{" }} $labels.rule {{ "}}" }}): the store needs a host its ProviderClass does not grant"
    - alert: ExternalSecretSyncSlow
      expr: max by (name, namespace) (externalsecret_reconcile_duration) > {{ .Values.prometheusRule.syncSlowSeconds }} * 1e9
      for: {{ .Values.prometheusRule.syncSlowFor }}
      labels: {severity: info}
      annotations:
        summary: "ExternalSecret {{ "{{" }} $labels.namespace {{ "}}" }}/{{ "{{" }} $labels.name {{ "}}" }} takes long to reconcile"
{{- end -}}
