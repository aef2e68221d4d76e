//! The list, hash and set commands.

use std::collections::VecDeque;

use protocol_runtime::bytes::Bytes;

use crate::specs::redis::{self as r, Value as Reply};

use super::commands::*;
use super::store::{element_cost, Value, WrongType};

// ---------------------------------------------------------------------------
// Lists

pub(super) fn push(c: &mut Ctx, a: &[Bytes], left: bool) -> Result<Reply, Fail> {
    let len = c
        .store
        .modify(c.conn.db, &a[1], c.now, Some(Value::new_list), |v| match v {
            Value::List(l) => {
                let mut cost = 0;
                for e in &a[2..] {
                    cost += element_cost(e.len());
                    if left {
                        l.push_front(e.clone());
                    } else {
                        l.push_back(e.clone());
                    }
                }
                (Ok(l.len()), cost)
            }
            _ => (Err(WrongType), 0),
        })
        .expect("created")?;
    c.pushed = true;
    Ok(integer(len as i64))
}

pub(super) fn pop(c: &mut Ctx, a: &[Bytes], left: bool) -> Result<Reply, Fail> {
    if a.len() > 3 {
        return Err(wrong_arity(if left { "lpop" } else { "rpop" }));
    }
    let count = a.get(2).map(|n| positive_count(n)).transpose()?;
    let popped = c.store.modify(c.conn.db, &a[1], c.now, None, |v| match v {
        Value::List(l) => {
            let n = count.unwrap_or(1).min(l.len());
            let taken: Vec<Bytes> = if left {
                l.drain(..n).collect()
            } else {
                l.drain(l.len() - n..).rev().collect()
            };
            let cost = taken.iter().map(|e| element_cost(e.len())).sum::<i64>();
            (Ok(taken), -cost)
        }
        _ => (Err(WrongType), 0),
    });
    Ok(match (popped.transpose()?, count) {
        (None, None) => nil(),
        (None, Some(_)) => Reply::NullArray(r::NullArray),
        (Some(mut taken), None) => taken.pop().map_or_else(nil, bulk),
        (Some(taken), Some(_)) => bulks(taken),
    })
}

fn list<R>(c: &mut Ctx, key: &[u8], empty: R, f: impl FnOnce(&VecDeque<Bytes>) -> R) -> Result<R, Fail> {
    match c.store.get(c.conn.db, key, c.now) {
        None => Ok(empty),
        Some(e) => match &e.value {
            Value::List(l) => Ok(f(l)),
            _ => Err(WrongType.into()),
        },
    }
}

pub(super) fn lrange(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    list(c, &a[1], array(vec![]), |l| {
        let len = l.len() as i64;
        let start = if start < 0 { (len + start).max(0) } else { start };
        let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
        if start > stop || start >= len {
            return array(vec![]);
        }
        bulks(l.range(start as usize..=stop as usize).cloned())
    })
}

pub(super) fn llen(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    list(c, &a[1], integer(0), |l| integer(l.len() as i64))
}

// ---------------------------------------------------------------------------
// Hashes

pub(super) fn hset(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    if a.len() % 2 == 1 {
        return Err(wrong_arity("hset"));
    }
    let added = c
        .store
        .modify(c.conn.db, &a[1], c.now, Some(Value::new_hash), |v| match v {
            Value::Hash(h) => {
                let (mut added, mut cost) = (0, 0);
                for pair in a[2..].chunks(2) {
                    match h.get_mut(&pair[0]) {
                        Some(old) => {
                            cost += pair[1].len() as i64 - old.len() as i64;
                            *old = pair[1].clone();
                        }
                        None => {
                            added += 1;
                            cost += element_cost(pair[0].len() + pair[1].len());
                            h.insert(pair[0].clone(), pair[1].clone());
                        }
                    }
                }
                (Ok(added), cost)
            }
            _ => (Err(WrongType), 0),
        })
        .expect("created")?;
    Ok(integer(added))
}

pub(super) fn hash<R>(
    c: &mut Ctx,
    key: &[u8],
    empty: R,
    f: impl FnOnce(&hashlink::LinkedHashMap<Bytes, Bytes, foldhash::fast::RandomState>) -> R,
) -> Result<R, Fail> {
    match c.store.get(c.conn.db, key, c.now) {
        None => Ok(empty),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(f(h)),
            _ => Err(WrongType.into()),
        },
    }
}

pub(super) fn hget(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    hash(c, &a[1], nil(), |h| h.get(&a[2]).cloned().map_or_else(nil, bulk))
}

pub(super) fn hgetall(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    hash(c, &a[1], array(vec![]), |h| {
        bulks(h.iter().flat_map(|(k, v)| [k.clone(), v.clone()]))
    })
}

pub(super) fn hdel(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let removed = c.store.modify(c.conn.db, &a[1], c.now, None, |v| match v {
        Value::Hash(h) => {
            let (mut n, mut cost) = (0, 0);
            for f in &a[2..] {
                if let Some(old) = h.remove(f) {
                    n += 1;
                    cost -= element_cost(f.len() + old.len());
                }
            }
            (Ok(n), cost)
        }
        _ => (Err(WrongType), 0),
    });
    Ok(integer(popped_count(removed)?))
}

fn popped_count(r: Option<Result<i64, WrongType>>) -> Result<i64, Fail> {
    Ok(r.transpose()?.unwrap_or(0))
}

pub(super) fn hincrby(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let by = int(&a[3])?;
    let n = c
        .store
        .modify(c.conn.db, &a[1], c.now, Some(Value::new_hash), |v| match v {
            Value::Hash(h) => {
                let old = match h.get(&a[2]) {
                    None => 0,
                    Some(s) => match parse_int(s) {
                        Some(n) => n,
                        None => return (fail("ERR hash value is not an integer"), 0),
                    },
                };
                let Some(n) = old.checked_add(by) else {
                    return (fail(OVERFLOW), 0);
                };
                let new = Bytes::from(n.to_string());
                let cost = match h.get_mut(&a[2]) {
                    Some(v) => {
                        let d = new.len() as i64 - v.len() as i64;
                        *v = new;
                        d
                    }
                    None => {
                        let d = element_cost(a[2].len() + new.len());
                        h.insert(a[2].clone(), new);
                        d
                    }
                };
                (Ok(n), cost)
            }
            _ => (Err(WrongType.into()), 0),
        })
        .expect("created")?;
    Ok(integer(n))
}

// ---------------------------------------------------------------------------
// Sets

pub(super) fn sadd(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let added = c
        .store
        .modify(c.conn.db, &a[1], c.now, Some(Value::new_set), |v| match v {
            Value::Set(s) => {
                let (mut n, mut cost) = (0, 0);
                for m in &a[2..] {
                    if s.insert(m.clone()) {
                        n += 1;
                        cost += element_cost(m.len());
                    }
                }
                (Ok(n), cost)
            }
            _ => (Err(WrongType), 0),
        })
        .expect("created")?;
    Ok(integer(added))
}

pub(super) fn smembers(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    match c.store.get(c.conn.db, &a[1], c.now) {
        None => Ok(array(vec![])),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(bulks(s.iter().cloned())),
            _ => Err(WrongType.into()),
        },
    }
}

/// `SCARD`, or with a member `SISMEMBER`.
pub(super) fn set_len(c: &mut Ctx, a: &[Bytes], member: Option<&Bytes>) -> Result<Reply, Fail> {
    match c.store.get(c.conn.db, &a[1], c.now) {
        None => Ok(integer(0)),
        Some(e) => match (&e.value, member) {
            (Value::Set(s), None) => Ok(integer(s.len() as i64)),
            (Value::Set(s), Some(m)) => Ok(integer(i64::from(s.contains(m)))),
            _ => Err(WrongType.into()),
        },
    }
}

pub(super) fn srem(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let removed = c.store.modify(c.conn.db, &a[1], c.now, None, |v| match v {
        Value::Set(s) => {
            let (mut n, mut cost) = (0, 0);
            for m in &a[2..] {
                if s.remove(m) {
                    n += 1;
                    cost -= element_cost(m.len());
                }
            }
            (Ok(n), cost)
        }
        _ => (Err(WrongType), 0),
    });
    Ok(integer(popped_count(removed)?))
}

/// xorshift64*: good enough to pick members.
fn next_random(state: &mut u64) -> u64 {
    let mut x = (*state).max(1);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

pub(super) fn spop(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    if a.len() > 3 {
        return fail(SYNTAX);
    }
    let count = a.get(2).map(|n| positive_count(n)).transpose()?;
    let random = &mut *c.random;
    let popped = c.store.modify(c.conn.db, &a[1], c.now, None, |v| match v {
        Value::Set(s) => {
            let n = count.unwrap_or(1).min(s.len());
            let taken: Vec<Bytes> = (0..n)
                .map(|_| {
                    let i = (next_random(random) % s.len() as u64) as usize;
                    s.take(i)
                })
                .collect();
            let cost = taken.iter().map(|m| element_cost(m.len())).sum::<i64>();
            (Ok(taken), -cost)
        }
        _ => (Err(WrongType), 0),
    });
    Ok(match (popped.transpose()?, count) {
        (None, None) => nil(),
        (None, Some(_)) => array(vec![]),
        (Some(mut taken), None) => taken.pop().map_or_else(nil, bulk),
        (Some(taken), Some(_)) => bulks(taken),
    })
}
