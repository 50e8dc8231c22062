//! Zigzag varints as the record format uses them (protobuf's encoding).

/// Why a varint could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More continuation bytes than the type allows.
    TooLong,
}

/// Reads a zigzag varint of at most 5 bytes (an i32). Returns the value and bytes consumed.
pub fn read_varint(input: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, used) = read_unsigned(input, 5)?;
    let raw = u32::try_from(raw).map_err(|_| VarintError::TooLong)?;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Reads a zigzag varlong of at most 10 bytes (an i64). Returns the value and bytes consumed.
pub fn read_varlong(input: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, used) = read_unsigned(input, 10)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

/// Appends `value` as a zigzag varint.
pub fn write_varint(value: i32, out: &mut Vec<u8>) {
    write_unsigned(((value << 1) ^ (value >> 31)) as u32 as u64, out);
}

/// Appends `value` as a zigzag varlong.
pub fn write_varlong(value: i64, out: &mut Vec<u8>) {
    write_unsigned(((value << 1) ^ (value >> 63)) as u64, out);
}

fn read_unsigned(input: &[u8], bytes_max: usize) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (index, &byte) in input.iter().take(bytes_max).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok((value, index + 1));
        }
    }
    if input.len() < bytes_max {
        Err(VarintError::Truncated)
    } else {
        Err(VarintError::TooLong)
    }
}

fn write_unsigned(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_values_match_the_spec() {
        let mut out = Vec::new();
        write_varint(0, &mut out);
        write_varint(-1, &mut out);
        write_varint(1, &mut out);
        write_varint(-2, &mut out);
        write_varint(64, &mut out);
        assert_eq!(out, [0x00, 0x01, 0x02, 0x03, 0x80, 0x01]);
        assert_eq!(read_varint(&[0x80, 0x01]), Ok((64, 2)));
        assert_eq!(read_varint(&[0x03]), Ok((-2, 1)));
        assert_eq!(read_varint(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(read_varint(&[0xff; 6]), Err(VarintError::TooLong));
        for value in [i64::MIN, -1, 0, 1, i64::MAX] {
            let mut out = Vec::new();
            write_varlong(value, &mut out);
            assert_eq!(read_varlong(&out), Ok((value, out.len())));
        }
        for value in [i32::MIN, i32::MAX] {
            let mut out = Vec::new();
            write_varint(value, &mut out);
            assert_eq!(read_varint(&out), Ok((value, 5)));
        }
    }
}
