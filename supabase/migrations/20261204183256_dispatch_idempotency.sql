-- The dispatch-scenario-prompt Edge Function's Idempotency-Key ledger: one row per key and
-- device (a mentor's devices share their prompt's key). The device token is kept only as its
-- SHA-256. The function deletes rows older than 30 days itself.
create table if not exists public.dispatch_idempotency (
  idempotency_key text not null check (length(idempotency_key) <= 100),
  device_token_sha256 text not null check (device_token_sha256 ~ '^[0-9a-f]{64}$'),
  status text not null check (status in ('in_flight', 'delivered', 'failed')),
  -- Who holds an in-flight entry: only that attempt records its end.
  attempt uuid not null,
  message_name text,
  tries integer not null default 1,
  created_at timestamptz not null default now(),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  primary key (idempotency_key, device_token_sha256)
);

create index if not exists dispatch_idempotency_created_at
  on public.dispatch_idempotency (created_at);

-- Only the function (connected as the database owner) reads and writes it: no Data API access.
alter table public.dispatch_idempotency enable row level security;

do $$
begin
  if exists (select from pg_roles where rolname = 'anon') then
    revoke all on table public.dispatch_idempotency from anon;
  end if;
  if exists (select from pg_roles where rolname = 'authenticated') then
    revoke all on table public.dispatch_idempotency from authenticated;
  end if;
end
$$;
