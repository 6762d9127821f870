// Bouncy Castle as an S/MIME signing peer for the interoperability tests: signs a MIME entity
// with SMIMESignedGenerator, encapsulated (opaque, application/pkcs7-mime; smime-type=signed-data)
// or detached (multipart/signed), and writes whole messages.
// Run with: java -cp <bc jars + javax.mail> BcSign.java CERT.pem KEY.pem JOB...
// where each JOB is mode:digest:subject:entityfile:outfile (mode opaque|detached,
// digest SHA1|SHA256|SHA384|SHA512); one JVM start signs them all.
import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.X509Certificate;
import java.util.*;
import javax.mail.*;
import javax.mail.internet.*;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoGeneratorBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.mail.smime.SMIMESignedGenerator;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

public class BcSign {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        X509Certificate cert;
        PrivateKey key;
        try (PEMParser p = new PEMParser(new FileReader(args[0]))) {
            cert = new JcaX509CertificateConverter().setProvider("BC")
                .getCertificate((X509CertificateHolder) p.readObject());
        }
        try (PEMParser p = new PEMParser(new FileReader(args[1]))) {
            key = new JcaPEMKeyConverter().setProvider("BC").getPrivateKey((PrivateKeyInfo) p.readObject());
        }
        Session session = Session.getDefaultInstance(new Properties());
        for (int i = 2; i < args.length; i++) {
            String[] job = args[i].split(":", 5);
            byte[] entity = Files.readAllBytes(Paths.get(job[3]));
            SMIMESignedGenerator gen = new SMIMESignedGenerator();
            gen.addSignerInfoGenerator(new JcaSimpleSignerInfoGeneratorBuilder().setProvider("BC")
                .build(job[1] + "withRSA", key, cert));
            gen.addCertificates(new JcaCertStore(List.of(cert)));
            MimeBodyPart part = new MimeBodyPart(new ByteArrayInputStream(entity));
            MimeMessage msg = new MimeMessage(session);
            msg.setFrom(new InternetAddress("bob@example.org"));
            msg.setRecipient(Message.RecipientType.TO, new InternetAddress("alice@example.org"));
            msg.setSubject(job[2]);
            if (job[0].equals("opaque")) {
                MimeBodyPart signed = gen.generateEncapsulated(part);
                msg.setContent(signed.getContent(), signed.getContentType());
            } else {
                MimeMultipart signed = gen.generate(part);
                msg.setContent(signed, signed.getContentType());
            }
            msg.saveChanges();
            try (OutputStream out = new FileOutputStream(job[4])) {
                msg.writeTo(out);
            }
        }
    }
}
