{% test unique_combination_of_columns(model, combination_of_columns) %}
    {#- No two rows share the values of these columns (a composite key). -#}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as rows_with_this_key
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
