-- The simulated plant's MES and ERP database (PostgreSQL). Idempotent.
-- Every table has a primary key and updated_at, as incremental extraction expects.
CREATE SCHEMA IF NOT EXISTS erp;
CREATE SCHEMA IF NOT EXISTS mes;

CREATE TABLE IF NOT EXISTS erp.materials (
    material_id text PRIMARY KEY, description text, unit text, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS erp.products (
    product_id text PRIMARY KEY, name text NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS erp.bill_of_materials (
    product_id text REFERENCES erp.products, material_id text REFERENCES erp.materials,
    qty_per_unit double precision NOT NULL, unit text, updated_at timestamptz NOT NULL,
    PRIMARY KEY (product_id, material_id));
CREATE TABLE IF NOT EXISTS erp.routings (
    product_id text REFERENCES erp.products, equipment_kind text,
    ideal_cycle_s double precision NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (product_id, equipment_kind));
CREATE TABLE IF NOT EXISTS erp.cost_rates (
    equipment_kind text PRIMARY KEY, eur_per_hour double precision NOT NULL, updated_at timestamptz NOT NULL);

CREATE TABLE IF NOT EXISTS mes.equipment (
    equipment_id text PRIMARY KEY, enterprise text NOT NULL, site text NOT NULL, area text NOT NULL,
    line text NOT NULL, cell text NOT NULL, name text NOT NULL, kind text NOT NULL,
    timezone text NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS mes.equipment_tags (
    equipment_id text REFERENCES mes.equipment, tag text, datatype text NOT NULL, unit text,
    low double precision, high double precision, description text, enum_values text,
    updated_at timestamptz NOT NULL, PRIMARY KEY (equipment_id, tag));
CREATE TABLE IF NOT EXISTS mes.shift_calendar (
    shift_id text PRIMARY KEY, site text NOT NULL, shift_name text NOT NULL, local_date date NOT NULL,
    start_time timestamptz NOT NULL, end_time timestamptz NOT NULL,
    break_start timestamptz, break_end timestamptz, maintenance_end timestamptz,
    updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS mes.work_orders (
    work_order_id text PRIMARY KEY, product_id text NOT NULL, equipment_id text NOT NULL,
    qty_planned integer NOT NULL, status text NOT NULL, released_at timestamptz,
    started_at timestamptz, completed_at timestamptz, qty_done integer, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS mes.operations (
    work_order_id text, operation_no integer, equipment_id text NOT NULL,
    ideal_cycle_s double precision NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (work_order_id, operation_no));
CREATE TABLE IF NOT EXISTS mes.production_counts (
    equipment_id text, interval_start timestamptz, interval_end timestamptz NOT NULL,
    produced integer NOT NULL, good integer NOT NULL, scrap integer NOT NULL, rework integer NOT NULL,
    updated_at timestamptz NOT NULL, PRIMARY KEY (equipment_id, interval_start));
CREATE TABLE IF NOT EXISTS mes.downtime_events (
    event_id text PRIMARY KEY, equipment_id text NOT NULL, start_time timestamptz NOT NULL,
    end_time timestamptz, state text NOT NULL, reason_code text NOT NULL, operator_comment text,
    work_order_id text, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS mes.quality_inspections (
    inspection_id text PRIMARY KEY, equipment_id text NOT NULL, work_order_id text, material_lot text,
    characteristic text NOT NULL, nominal double precision, lower_limit double precision,
    upper_limit double precision, measured double precision NOT NULL, passed boolean NOT NULL,
    inspected_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);

CREATE INDEX IF NOT EXISTS work_orders_updated ON mes.work_orders (updated_at, work_order_id);
CREATE INDEX IF NOT EXISTS downtime_updated ON mes.downtime_events (updated_at, event_id);
CREATE INDEX IF NOT EXISTS counts_updated ON mes.production_counts (updated_at);
CREATE INDEX IF NOT EXISTS inspections_updated ON mes.quality_inspections (updated_at);
