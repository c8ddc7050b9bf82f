//! Requests under a size bound (`TRACED_MAX_EXPORT_BYTES`): a batch whose request would be larger is split, and
//! an item too large for a request of its own is left out (and counted as failed), never sent.
//!
//! Collectors refuse larger messages (gRPC servers answer OUT_OF_RANGE or RESOURCE_EXHAUSTED past 4 MiB by
//! default, HTTP servers 413), and the refusal would be the same on every retry: one oversized span sank its
//! whole batch, retried until the export timeout. The split halves the batch until each half fits, so it works
//! for any encoder (protobuf, JSON, any signal); a batch under the bound, the usual case, is encoded once.

use std::ops::Range;

/// One piece of a batch under the bound.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    /// The encoded request for the items `range`, at most the bound long.
    Request { range: Range<usize>, bytes: Vec<u8> },
    /// One item whose request alone is `size` bytes, over the bound.
    TooLarge { index: usize, size: usize },
}

/// Encodes `items` into requests of at most `max_bytes` each, in order, with `encode` writing the request for a
/// run of items.
pub(super) fn bounded<T>(
    items: &[T],
    max_bytes: usize,
    mut encode: impl FnMut(&[T]) -> Vec<u8>,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if !items.is_empty() {
        split(items, 0, max_bytes, &mut encode, &mut pieces);
    }
    pieces
}

fn split<T>(
    items: &[T],
    offset: usize,
    max_bytes: usize,
    encode: &mut impl FnMut(&[T]) -> Vec<u8>,
    pieces: &mut Vec<Piece>,
) {
    let bytes = encode(items);
    if bytes.len() <= max_bytes {
        pieces.push(Piece::Request {
            range: offset..offset + items.len(),
            bytes,
        });
        return;
    }
    if items.len() == 1 {
        pieces.push(Piece::TooLarge {
            index: offset,
            size: bytes.len(),
        });
        return;
    }
    drop(bytes);
    let half = items.len() / 2;
    split(&items[..half], offset, max_bytes, encode, pieces);
    split(&items[half..], offset + half, max_bytes, encode, pieces);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each item is its own length in bytes, plus 10 bytes of request overhead.
    fn encode(items: &[usize]) -> Vec<u8> {
        vec![0; 10 + items.iter().sum::<usize>()]
    }

    #[test]
    fn a_batch_under_the_bound_is_one_request() {
        assert_eq!(
            bounded(&[10, 20, 30], 100, encode),
            vec![Piece::Request {
                range: 0..3,
                bytes: vec![0; 70]
            }]
        );
        assert!(bounded(&[] as &[usize], 100, encode).is_empty());
    }

    #[test]
    fn a_large_batch_is_split_and_an_oversized_item_left_out() {
        let items = [40, 40, 40, 40, 500, 40];
        let pieces = bounded(&items, 100, encode);
        let mut covered = Vec::new();
        for piece in &pieces {
            match piece {
                Piece::Request { range, bytes } => {
                    assert!(bytes.len() <= 100, "{piece:?}");
                    covered.extend(range.clone());
                }
                Piece::TooLarge { index, size } => {
                    assert_eq!((*index, *size), (4, 510));
                    covered.push(*index);
                }
            }
        }
        // Every item once, in order.
        assert_eq!(covered, (0..items.len()).collect::<Vec<_>>());
    }
}
