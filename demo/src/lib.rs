//! Sallyport demo (being written).
