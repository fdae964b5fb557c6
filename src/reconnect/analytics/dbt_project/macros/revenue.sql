{% macro revenue_by_currency(relation, keys, where='true') -%}
    {#-
        Revenue summed per currency for each group of `keys` (docs/analytics.md: currencies are
        never converted). revenue_by_currency maps each currency to its sum (purchases without
        a currency under 'unknown'); revenue and revenue_currency are set only when the group's
        purchases share one currency (or none names one), else both are null.
    -#}
    select
        {{ keys | join(', ') }},
        map_from_entries(collect_list(struct(currency_key, currency_revenue))) as revenue_by_currency,
        case when count(*) = 1 then max(currency_revenue) end as revenue,
        case when count(*) = 1 then max(currency) end as revenue_currency
    from (
        select
            {{ keys | join(', ') }},
            currency,
            coalesce(currency, 'unknown') as currency_key,
            coalesce(sum(revenue), 0) as currency_revenue
        from {{ relation }}
        where {{ where }}
        group by {{ keys | join(', ') }}, currency
    ) as by_currency
    group by {{ keys | join(', ') }}
{%- endmacro %}
