//! A prepared statement driven through SQLite's C API, for the bulk import's multi-row statements:
//! a blob is bound without a copy (`SQLITE_STATIC`), so binding does not allocate. rusqlite always
//! binds blobs as `SQLITE_TRANSIENT` (a malloc, a copy and a free per value): about a sixth of an
//! import's time went there.
//!
//! Safety rests on two rules, kept here: every run ([`RawStatement::execute`],
//! [`RawStatement::count`]) clears the bindings before it returns, so a blob pointer never outlives
//! the run it was bound for; and a statement borrows its connection, so it is finalised first.

use std::ffi::{c_int, CStr};
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::{ffi, Connection};

pub(super) struct RawStatement<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    _conn: PhantomData<&'c Connection>,
}

fn failure(code: c_int, message: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(message.into()))
}

impl<'c> RawStatement<'c> {
    pub(super) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        // SAFETY: the handle stays valid while `conn` is borrowed, which this statement does.
        let db = unsafe { conn.handle() };
        let len =
            c_int::try_from(sql.len()).map_err(|_| failure(ffi::SQLITE_TOOBIG, "statement too long"))?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes; `stmt` receives the statement (or null).
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                db,
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        let this = NonNull::new(stmt).map(|stmt| Self {
            stmt,
            db,
            _conn: PhantomData,
        });
        if rc != ffi::SQLITE_OK {
            return Err(Self::error(db, rc));
        }
        this.ok_or_else(|| failure(ffi::SQLITE_MISUSE, "empty statement"))
    }

    fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
        // SAFETY: `db` is a live connection; the message is copied before any other call.
        let message = unsafe {
            let m = ffi::sqlite3_errmsg(db);
            if m.is_null() {
                String::new()
            } else {
                CStr::from_ptr(m).to_string_lossy().into_owned()
            }
        };
        failure(rc, message)
    }

    fn index(i: usize) -> rusqlite::Result<c_int> {
        c_int::try_from(i).map_err(|_| failure(ffi::SQLITE_RANGE, "parameter index"))
    }

    fn check(&self, rc: c_int) -> rusqlite::Result<()> {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(Self::error(self.db, rc))
        }
    }

    pub(super) fn bind_i64(&mut self, i: usize, v: i64) -> rusqlite::Result<()> {
        let i = Self::index(i)?;
        // SAFETY: a live statement; SQLite checks the index.
        self.check(unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), i, v) })
    }

    /// Binds `v` without copying it.
    ///
    /// # Safety
    /// `v` must stay alive and unchanged until the next [`RawStatement::execute`] or
    /// [`RawStatement::count`] returns (they clear the bindings), and one of them must run before
    /// `v` goes (the statement is only ever run through them).
    pub(super) unsafe fn bind_blob(&mut self, i: usize, v: &[u8]) -> rusqlite::Result<()> {
        let i = Self::index(i)?;
        let len = c_int::try_from(v.len()).map_err(|_| failure(ffi::SQLITE_TOOBIG, "blob too long"))?;
        self.check(ffi::sqlite3_bind_blob(
            self.stmt.as_ptr(),
            i,
            v.as_ptr().cast(),
            len,
            ffi::SQLITE_STATIC(),
        ))
    }

    /// Unbinds every parameter (after a failed bind, so no blob pointer stays behind).
    pub(super) fn clear_bindings(&mut self) {
        // SAFETY: a live statement.
        unsafe {
            ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
        }
    }

    /// Steps once; then resets the statement and clears its bindings, whatever happened.
    fn run<T>(&mut self, on_step: impl FnOnce(&Self, c_int) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        // SAFETY: a live statement, every parameter bound by the caller.
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        let out = on_step(self, rc);
        // SAFETY: a live statement. Reset repeats a step error (already taken above); clearing
        // the bindings drops every blob pointer.
        unsafe {
            ffi::sqlite3_reset(self.stmt.as_ptr());
            ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
        }
        out
    }

    /// Runs a statement that returns no rows (an INSERT): the rows it changed.
    pub(super) fn execute(&mut self) -> rusqlite::Result<usize> {
        self.run(|s, rc| match rc {
            // SAFETY: a live connection.
            ffi::SQLITE_DONE => Ok(unsafe { ffi::sqlite3_changes64(s.db) }.max(0) as usize),
            ffi::SQLITE_ROW => Err(failure(ffi::SQLITE_MISUSE, "an INSERT returned a row")),
            rc => Err(Self::error(s.db, rc)),
        })
    }

    /// Runs a query of one integer (`SELECT count(*) ...`): its value.
    pub(super) fn count(&mut self) -> rusqlite::Result<i64> {
        self.run(|s, rc| match rc {
            // SAFETY: the statement is on a row.
            ffi::SQLITE_ROW => Ok(unsafe { ffi::sqlite3_column_int64(s.stmt.as_ptr(), 0) }),
            ffi::SQLITE_DONE => Ok(0),
            rc => Err(Self::error(s.db, rc)),
        })
    }
}

impl Drop for RawStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and finalised once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}
