{% macro lookback_start(column) -%}
    {#-
        The earliest event time an incremental run recomputes: the newest value of `column`
        in the model's existing table less var('lookback_days'), as a timestamp literal (the
        same value in the model's body and in its pre-hook). Only called when is_incremental().
    -#}
    {%- set query -%}
        select cast(max({{ column }}) - make_dt_interval({{ var('lookback_days') }}) as string)
        from {{ this }}
    {%- endset -%}
    {%- set start = none -%}
    {%- if execute -%}
        {%- set start = run_query(query).columns[0].values()[0] -%}
    {%- endif -%}
    {{- return("timestamp'" ~ (start or '0001-01-01 00:00:00') ~ "'") -}}
{%- endmacro %}
