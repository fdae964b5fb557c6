{% macro delete_lookback_window(column) -%}
    {#-
        The pre-hook of an incremental model whose source rows can be replaced or removed
        (gold.attributed_purchases: a late click moves a purchase's last-click credit to another
        campaign): before the merge, delete the model's rows in the lookback window, which the
        run then inserts again from the source. Empty (no statement) on a full build.
    -#}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ column }} >= {{ lookback_start(column) }}
    {%- endif -%}
{%- endmacro %}
