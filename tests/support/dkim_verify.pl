#!/usr/bin/perl
# Verify the DKIM signatures of the message on standard input with Mail::DKIM (the library
# SpamAssassin's DKIM plugin uses; not dkimpy), asking DNS at 127.0.0.1:<port> only.
# Prints one line per signature: "<result> d=<domain> c=<canon> h=<signed headers> <detail>".
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;

my $port = shift or die "usage: dkim_verify.pl PORT < message\n";
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
    nameservers => ['127.0.0.1'], port => $port, recurse => 1,
    udp_timeout => 5, tcp_timeout => 5, retry => 1,
));
my $verifier = Mail::DKIM::Verifier->new();
binmode STDIN;
while (my $line = <STDIN>) {
    $line =~ s/\r?\n\z/\r\n/;
    $verifier->PRINT($line);
}
$verifier->CLOSE();
my @signatures = $verifier->signatures;
print "none\n" unless @signatures;
for my $signature (@signatures) {
    printf "%s d=%s c=%s h=%s %s\n", $signature->result, $signature->domain,
        join('/', $signature->canonicalization), join(':', $signature->headerlist),
        $signature->result_detail;
}
