-- The plain-PostgreSQL ledger peer of `make bench`, in the style of pgledger: accounts with a
-- balance and a version, one row per transfer, two entries per transfer (each with the
-- account's balance before and after), and one server-side function that does a whole
-- transfer in a single call: lock both accounts in one global order, move the amount, refuse
-- an overdraft, record it. Written for this bench (integer coins, uuid keys), not pgledger's
-- own code.

CREATE TABLE IF NOT EXISTS ledger_accounts (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    balance bigint NOT NULL DEFAULT 0,
    version bigint NOT NULL DEFAULT 0,
    allow_negative boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ledger_transfers (
    id uuid PRIMARY KEY,
    from_account uuid NOT NULL REFERENCES ledger_accounts (id),
    to_account uuid NOT NULL REFERENCES ledger_accounts (id),
    amount bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (amount > 0 AND from_account <> to_account)
);
CREATE INDEX IF NOT EXISTS ledger_transfers_from ON ledger_transfers (from_account);
CREATE INDEX IF NOT EXISTS ledger_transfers_to ON ledger_transfers (to_account);

CREATE TABLE IF NOT EXISTS ledger_entries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES ledger_accounts (id),
    transfer_id uuid NOT NULL REFERENCES ledger_transfers (id),
    amount bigint NOT NULL,
    balance_before bigint NOT NULL,
    balance_after bigint NOT NULL,
    account_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledger_entries_account ON ledger_entries (account_id);
CREATE INDEX IF NOT EXISTS ledger_entries_transfer ON ledger_entries (transfer_id);

-- One transfer, one call. Raises check_violation (23514) on an overdraft, so the call's
-- implicit transaction rolls back whole: nothing of a refused transfer is kept.
CREATE OR REPLACE FUNCTION ledger_transfer(p_from uuid, p_to uuid, p_amount bigint)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    src ledger_accounts;
    dst ledger_accounts;
    tid uuid := gen_random_uuid();
BEGIN
    IF p_amount <= 0 THEN
        RAISE EXCEPTION 'amount % must be positive', p_amount USING ERRCODE = 'check_violation';
    END IF;
    IF p_from = p_to THEN
        RAISE EXCEPTION 'cannot transfer to the same account' USING ERRCODE = 'check_violation';
    END IF;
    -- Both rows locked in id order (rows are locked as the sorted scan returns them), so two
    -- transfers between the same accounts in opposite directions cannot deadlock.
    PERFORM 1 FROM ledger_accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE;

    UPDATE ledger_accounts
       SET balance = balance - p_amount, version = version + 1, updated_at = now()
     WHERE id = p_from
    RETURNING * INTO src;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no account %', p_from USING ERRCODE = 'no_data_found';
    END IF;
    IF src.balance < 0 AND NOT src.allow_negative THEN
        RAISE EXCEPTION 'account % has % too few', p_from, -src.balance
            USING ERRCODE = 'check_violation';
    END IF;

    UPDATE ledger_accounts
       SET balance = balance + p_amount, version = version + 1, updated_at = now()
     WHERE id = p_to
    RETURNING * INTO dst;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no account %', p_to USING ERRCODE = 'no_data_found';
    END IF;

    INSERT INTO ledger_transfers (id, from_account, to_account, amount)
    VALUES (tid, p_from, p_to, p_amount);
    INSERT INTO ledger_entries (account_id, transfer_id, amount, balance_before, balance_after,
                                account_version)
    VALUES (p_from, tid, -p_amount, src.balance + p_amount, src.balance, src.version),
           (p_to, tid, p_amount, dst.balance - p_amount, dst.balance, dst.version);
    RETURN tid;
END;
$$;
