fn main() { interceptor_bench::probe(); }
