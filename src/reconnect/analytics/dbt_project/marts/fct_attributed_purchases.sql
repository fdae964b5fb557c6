{#-
    Incremental: delete the rows of the lookback window, then merge on the table's key. A
    purchase's credit depends only on the purchase and the clicks before it, so a late click or
    purchase changes rows whose purchase_time is after that event's time. A run deletes the rows
    whose purchase_time is within var('lookback_days') before the newest one here (the pre-hook)
    and inserts the source's rows of the same window again: a credit that moved (a row that
    disappeared from gold.attributed_purchases) is gone here too, and the result equals a full
    refresh as long as no click or purchase arrives more than lookback_days late.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['attribution', 'purchase_event_id', 'campaign_id'],
        on_schema_change='fail',
        pre_hook="{{ delete_lookback_window('purchase_time') }}"
    )
}}

with attributed as (
    select * from {{ ref('stg_reconnect__attributed_purchases') }}
),

final as (
    select
        attribution,
        purchase_event_id,
        order_id,
        purchase_time,
        cast(purchase_time as date) as purchase_date,
        user_id,
        revenue,
        currency,
        campaign_id,
        variation_id,
        is_control,
        step_number,
        step_name,
        channel,
        message_id,
        click_event_id,
        click_time,
        unix_seconds(purchase_time) - unix_seconds(click_time) as seconds_from_click
    from attributed
    {% if is_incremental() %}
        where purchase_time >= {{ lookback_start('purchase_time') }}
    {% endif %}
)

select * from final
